"""Reports of sweeps: the paper's Figures 1-7 and Table 1 redrawn from the results store, its
findings checked, and two sweeps compared. Three layers, each a sub-package with its own
docstring (orchestrator/README.md names every module):

    analysis/   every number, pure: the sweep as stored, curves, statistics and verdicts, CPU per
                reply, Table 1, the paper's claims, WAN findings, two sweeps compared
    figures/    drawing the figures with matplotlib (Agg): PNG and SVG
    html/       the self-contained pages: jinja2 templates (autoescaped) fed the analysis' values
    write       reports/<sweep-id>/ under the results directory: PNGs, SVGs, CSVs, index.html;
                compare's page
    terminal    a comparison as a table in the terminal

The API the nightly runs use:

    from orchestrator.report.analysis.compare import compare_sweeps
    result = compare_sweeps(store, base_id, new_id, threshold=0.05)
    result.regressed, result.rows[0].peak.relative, result.rows[0].saturation.verdict

Nothing is imported here, so importing `analysis.compare` does not pull in matplotlib.
"""
