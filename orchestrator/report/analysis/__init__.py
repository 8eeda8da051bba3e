"""The report's arithmetic, pure (no matplotlib, no HTML): curves, peaks and saturation from the
stored points, Student-t/Welch statistics and verdicts, CPU per reply, Table 1, the paper's
claims checked, WAN findings, two sweeps compared. Everything the figures draw and the page
shows is computed here, and unit-tested on numbers."""
