"""Reports of sweeps: the paper's Figures 1-7 and Table 1 redrawn from the results store, its
findings checked, and two sweeps compared. One module per concern:

    stats      Student-t intervals, Welch's difference, the verdict of a change (pure)
    data       curves, peaks, saturation and figures from a sweep's stored points (pure)
    syscalls   Table 1: server time per system call at one rate (pure)
    findings   the idle-connection degradation and the paper's claims checked (pure)
    build      everything a report shows, as one `Report` (pure)
    figures    one PNG per figure (matplotlib, Agg)
    html       the self-contained page
    write      reports/<sweep-id>/ under the results directory: PNGs, CSVs, index.html
    compare    two sweeps curve by curve, as dataclasses; the terminal table and its page

The API the nightly runs use:

    from orchestrator.report.compare import compare_sweeps
    result = compare_sweeps(store, base_id, new_id, threshold=0.05)
    result.regressed, result.rows[0].peak.relative, result.rows[0].saturation.verdict

Nothing is imported here, so importing `compare` does not pull in matplotlib.
"""
