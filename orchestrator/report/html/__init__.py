"""The report's page and compare's page: jinja2 templates under `templates/` with autoescaping
on, fed values the analysis computed; the modules here only pick and format them (`kit` holds
the environment, `page` the report, `compare` the comparison)."""
