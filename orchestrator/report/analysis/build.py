"""Everything a sweep's report shows, computed once from the stored sweep.

    report = build(SweepData.load(store, sweep_id), profile_rate=None)
    report.figures, report.tables, report.idle, report.findings, report.paper

Pure: the PNGs, CSVs and the HTML page are all drawn from a `Report` (see `write`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from orchestrator.errors import EXIT_USAGE, TestbedError
from orchestrator.report.analysis.beside import Headline, Table1Beside, headlines, table1_beside
from orchestrator.report.analysis.claims import Finding
from orchestrator.report.analysis.data import Curve, curves
from orchestrator.report.analysis.findings import IdleRow, check_findings, idle_degradation
from orchestrator.report.analysis.layout import Figure, figures
from orchestrator.report.analysis.ordering import main_accept_limit
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.analysis.syscalls import SyscallTable, syscall_table
from orchestrator.report.analysis.wanfindings import base_network, paper_curves, wan_statements


@dataclass(frozen=True)
class Report:
    """A sweep's report: its figures' data, Table 1 per group, idle degradation, findings."""

    data: SweepData
    curves: tuple[Curve, ...]
    figures: tuple[Figure, ...]
    tables: tuple[SyscallTable, ...]
    idle: tuple[IdleRow, ...]
    findings: tuple[Finding, ...]
    wan: tuple[str, ...] = ()  # each WAN curve against its LAN curve (`wanfindings`)
    # The paper beside us (`beside`): its Table 1 by column, its figures' headline numbers.
    table1_paper: Table1Beside | None = None
    paper: tuple[Headline, ...] = ()

    def spreads(self) -> list[float]:
        """Spread between repetitions: the reply rate's coefficient of variation at every
        point with more than one ok run."""
        return [
            reply.cv
            for curve in self.curves
            for point in curve.points
            if (reply := point.reply) is not None and reply.cv is not None
        ]


def build(data: SweepData, profile_rate: float | None = None) -> Report:
    """The report of `data`; `profile_rate` chooses Table 1's rate (it must have been measured)."""
    if not data.points:
        raise TestbedError(f"sweep {data.id} has no stored point: nothing to report")
    every = curves(data)
    if profile_rate is not None:
        measured = sorted({p.target_rate for p in data.points})
        if profile_rate not in measured:
            rates = ", ".join(f"{rate:g}" for rate in measured)
            raise TestbedError(
                f"--profile-rate: {profile_rate:g} was not measured in sweep {data.id}"
                f" (rates: {rates})",
                EXIT_USAGE,
            )
    # The paper's findings, Table 1 and the idle degradation are judged on its own links (LAN);
    # curves under WAN profiles are drawn beside them and compared in `wan`.
    base = base_network(every)
    paper = paper_curves(every)
    on_lan = replace(data, points=tuple(p for p in data.points if p.network == base))
    tables = []
    groups = dict.fromkeys((c.workload, c.idle_connections) for c in paper)
    for workload, idle in groups:
        main = main_accept_limit(c.accept_limit for c in paper if c.workload == workload)
        tables.append(syscall_table(on_lan, workload, idle, main, profile_rate))
    return Report(
        data=data,
        curves=tuple(every),
        figures=tuple(figures(data)),
        tables=tuple(tables),
        idle=tuple(idle_degradation(paper)),
        findings=tuple(check_findings(paper, tables)),
        wan=tuple(wan_statements(data, every)),
        table1_paper=table1_beside(tables),
        paper=tuple(headlines(paper, tables)),
    )
