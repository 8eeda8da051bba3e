"""Reports of sweeps: the paper's Figures 1-7 and Table 1 redrawn from the results store, its
findings checked, and two sweeps compared. One module per concern:

    stats         Student-t intervals, Welch's difference, the verdict of a change and of a
                  claim about one: holds / does not hold / inconclusive / not measured (pure)
    pointmetrics  what one stored point says besides its reply rate: CPU per reply, ... (pure)
    data          curves, peaks, saturation from a sweep's stored points (pure)
    layout        which figures a sweep gets: the paper's 1-7, then A1, A2, ... (pure)
    costs         CPU per reply compared between curves rate by rate; projected capacity (pure)
    syscalls      Table 1: each call's share of the server's CPU at one rate (pure)
    pairs         one comparison a claim rests on, by peaks or by CPU per reply (pure)
    claims        a claim's comparisons and workloads made one stated verdict (pure)
    findings      the idle-connection degradation and the paper's claims checked (pure)
    build         everything a report shows, as one `Report` (pure)
    style, figures, panels, bars   drawing the figures (matplotlib, Agg): PNG and SVG
    html, htmlfigures, htmltable1, htmllab, htmlkit   the self-contained page
    write         reports/<sweep-id>/ under the results directory: PNGs, SVGs, CSVs, index.html
    compare       two sweeps curve by curve, as dataclasses; the terminal table and its page

The API the nightly runs use:

    from orchestrator.report.analysis.compare import compare_sweeps
    result = compare_sweeps(store, base_id, new_id, threshold=0.05)
    result.regressed, result.rows[0].peak.relative, result.rows[0].saturation.verdict

Nothing is imported here, so importing `compare` does not pull in matplotlib.
"""
