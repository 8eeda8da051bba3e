"""The load agent: this client's share of the offered load, by httperf or tbload, and its one JSON
result. ``python3 -m agents.load`` runs it once; ``python3 -m agents.load.service`` runs it for
a whole sweep. ``README.md`` beside this file is its manual and names each module's job.

Nothing is imported here: the orchestrator imports the pure modules (``agents.load.args``,
``agents.load.request``, ``agents.load.result``) without the rest.
"""
