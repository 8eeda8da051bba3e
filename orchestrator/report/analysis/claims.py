"""A claim of the paper, judged on everything it rests on, with a verdict that says what that was.

    parts = ClaimParts(PAPER_WORKLOADS, measured=["one-byte"])
    parts.add(judge_pair(epoll_lt, select, no_lower(0.10), workload="one-byte", threshold=0.10))
    finding = parts.finding(claim, "Figures 1 and 2")
    finding.verdict   # 'holds' (one of stats.CLAIM_VERDICTS)
    finding.stated    # 'holds on one-byte only; specweb99 not in this sweep'

On each workload a claim is the conjunction of its comparisons (`stats.all_of`), and over the
claim's workloads the same. The stated verdict names what it does not rest on: a workload the
sweep did not measure or could not judge, single runs, and, when inconclusive, what would decide
it (the runs per curve the observed spread asks for, or rates that saturate a curve).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from orchestrator.report.analysis.pairs import BY_COST, BY_THROUGHPUT, Part
from orchestrator.report.analysis.stats import (
    DOES_NOT_HOLD,
    INCONCLUSIVE,
    NOT_MEASURED,
    all_of,
    what_decides,
)

PAPER_WORKLOADS = ("one-byte", "specweb99")  # the paper's two: each claim is made for both
MEASURES = {BY_THROUGHPUT: " (peak reply rates)", BY_COST: " (CPU per reply)"}


@dataclass(frozen=True)
class Finding:
    """One claim of the paper and what this sweep says about it."""

    claim: str
    source: str  # where the paper makes it
    verdict: str  # one of stats.CLAIM_VERDICTS
    qualifier: str  # what the verdict rests on: ' on one-byte only; specweb99 not in this sweep'
    evidence: tuple[str, ...]  # the numbers behind the verdict
    basis: tuple[str, ...] = ()  # what decided it: pairs.BY_THROUGHPUT, BY_COST, BY_COUNT
    failed: tuple[str, ...] = ()  # when it does not hold: the comparisons that failed
    why: str = ""  # why this basis (shown in the banner)

    @property
    def stated(self) -> str:
        """The verdict as the report states it: 'holds on one-byte only; ...'."""
        return self.verdict + self.qualifier


class ClaimParts:
    """The comparisons one claim rests on, gathered workload by workload."""

    def __init__(self, workloads: Sequence[str], measured: Iterable[str]) -> None:
        self.workloads = list(workloads)  # the claim's: a verdict on fewer says so
        self.measured = set(measured)  # the sweep's
        self.parts: list[Part] = []
        self.evidence: list[str] = []

    def add(self, part: Part) -> None:
        self.parts.append(part)
        if part.evidence:
            self.evidence.append(part.evidence)

    def note(self, line: str) -> None:
        """Evidence that is no comparison: a curve missing, a count."""
        self.evidence.append(line)

    def finding(self, claim: str, source: str, why: str = "") -> Finding:
        workloads = dict.fromkeys([*self.workloads, *(p.workload for p in self.parts)])
        per_workload = {
            workload: all_of(p.judgment.verdict for p in self.parts if p.workload == workload)
            for workload in workloads
        }
        verdict = all_of(per_workload.values())
        judged = [p for p in self.parts if p.judgment.verdict != NOT_MEASURED]
        basis = tuple(dict.fromkeys(p.basis for p in judged))
        failed = tuple(
            f"{p.workload}: {p.subject}{MEASURES.get(p.basis, '')}: {p.judgment.reason}"
            for p in judged
            if p.judgment.verdict == DOES_NOT_HOLD
        )
        return Finding(
            claim,
            source,
            verdict,
            self._qualifier(per_workload, verdict),
            tuple(self.evidence),
            basis,
            failed,
            why or _why(basis),
        )

    def _qualifier(self, per_workload: Mapping[str, str], verdict: str) -> str:
        """What follows the verdict: '', ' on one-byte only; specweb99 not in this sweep',
        ' (single runs) — at least 3 runs per curve would decide it', ..."""
        if verdict == NOT_MEASURED:
            return ""
        judged = [w for w, v in per_workload.items() if v != NOT_MEASURED]
        missing = [w for w, v in per_workload.items() if v == NOT_MEASURED]
        undecided = [p.judgment for p in self.parts if p.judgment.verdict == INCONCLUSIVE]
        text = " (single runs)" if any(j.single for j in undecided) else ""
        if len({per_workload[w] for w in judged}) == 1:
            text += f" on {', '.join(judged)} only" if missing else ""
        else:
            text += ": " + ", ".join(f"{per_workload[w]} on {w}" for w in judged)
        for workload in missing:
            text += f"; {workload} " + (
                "not judged" if workload in self.measured else "not in this sweep"
            )
        need = what_decides(undecided) if verdict == INCONCLUSIVE else ""
        return text + (f" — {need} would decide it" if need else "")


def _why(basis: Sequence[str]) -> str:
    if BY_COST in basis and BY_THROUGHPUT in basis:
        return (
            "judged by peak reply rates where a curve saturated, and by the server's CPU per"
            " reply where none did or a peak that is only a lower bound left it open"
        )
    if BY_COST in basis:
        return (
            "no curve it rests on saturated (or only a lower bound did), so it is judged by the"
            " server's CPU per reply"
        )
    if BY_THROUGHPUT in basis:
        return "curves saturated inside the rates: judged by peak reply rates"
    return ""
