"""The paper beside us: its Table 1 column by column next to our profile, and each figure's
headline number from its text next to what this sweep measured.

    beside = table1_beside(tables)        # Table1Beside: the paper's % and ours per call
    rows = headlines(curves, tables)      # [Headline]: figure, claim, paper, ours, runs

Pure: the paper's numbers come from `paper` (data, citing the table and the text), ours from the
curves and Table 1 the report already computed. Ours are never guessed: what this sweep did not
measure says "not measured in this sweep", a Table 1 that is no CPU profile says "not profiled
in this sweep", and each of our numbers says how many runs it rests on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from orchestrator.report.analysis import paper
from orchestrator.report.analysis.data import MECHANISM_LABELS, Curve
from orchestrator.report.analysis.data import find_curve as find
from orchestrator.report.analysis.ordering import mechanism_order
from orchestrator.report.analysis.stats import Estimate
from orchestrator.report.analysis.syscalls import NOT_PROFILED, SyscallTable

NOT_MEASURED = "not measured in this sweep"
CALL, OURS_ONLY, ROLE, TOTAL = "call", "ours only", "role", "total"  # kinds of Table 1 row


# -- Table 1, column by column -----------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    """One call's share of the run time in one column: the paper's and ours (None: the call is
    not made, or, for ours, not profiled)."""

    paper: float | None
    ours: float | None


@dataclass(frozen=True)
class BesideRow:
    name: str  # the paper's row, a call only ours makes, a role or the total
    ours_as: tuple[str, ...]  # our calls counted in it
    kind: str  # CALL, OURS_ONLY, ROLE or TOTAL
    shares: dict[str, Share] = field(default_factory=dict)  # by mechanism


@dataclass(frozen=True)
class Table1Beside:
    """The paper's Table 1 and ours (the one-byte workload without idle connections, as the
    paper's), per mechanism: the paper's columns in its order, then ours beyond them."""

    mechanisms: tuple[str, ...]
    rows: tuple[BesideRow, ...]
    ours: SyscallTable | None  # the table ours come from
    missing: str = ""  # why ours are absent ("": they stand beside the paper's)

    def runs(self, mechanism: str) -> int:
        if self.ours is None or self.missing:
            return 0
        return next((c.runs for c in self.ours.columns if c.mechanism == mechanism), 0)


def paper_table(tables: Sequence[SyscallTable]) -> SyscallTable | None:
    """Our Table 1 under the paper's conditions: one-byte, no idle connections."""
    return next(
        (
            t
            for t in tables
            if (t.workload, t.idle_connections) == (paper.TABLE1_WORKLOAD, paper.TABLE1_IDLE)
        ),
        None,
    )


def table1_beside(tables: Sequence[SyscallTable]) -> Table1Beside:
    """The paper's Table 1 beside ours (see `Table1Beside`)."""
    ours = paper_table(tables)
    missing = ""
    if ours is None:
        missing = f"{NOT_MEASURED}: no one-byte points without idle connections"
    elif not ours.profiled:
        missing = NOT_PROFILED
    profiled = ours if not missing else None
    mechanisms = list(paper.TABLE1_MECHANISMS)
    if profiled is not None:
        mechanisms += sorted(set(profiled.mechanisms) - set(mechanisms), key=mechanism_order)
    made = {row.syscall for row in profiled.rows} if profiled is not None else set()

    def shares(paper_rows: Sequence[str], our_calls: Sequence[str]) -> dict[str, Share]:
        found = {}
        for mechanism in mechanisms:
            column = paper.TABLE1.get(mechanism, {})
            values = [v for row in paper_rows if (v := column.get(row)) is not None]
            found[mechanism] = Share(
                sum(values) if values else None, _ours(profiled, mechanism, our_calls)
            )
        return found

    rows = []
    counted: set[str] = set()
    for name in paper.TABLE1_ROWS:
        calls = paper.OUR_CALLS.get(name, (name,))
        counted.update(calls)
        rows.append(BesideRow(name, calls, CALL, shares([name], calls)))
    for call in sorted(made - counted):
        rows.append(BesideRow(call, (call,), OURS_ONLY, shares([], [call])))
    for role, paper_rows, our_calls in paper.ROLES:
        rows.append(BesideRow(role, our_calls, ROLE, shares(paper_rows, our_calls)))
    everything = tuple(sorted(made))
    total = shares(paper.TABLE1_ROWS, everything)
    rows.append(BesideRow("all system calls", everything, TOTAL, total))
    return Table1Beside(tuple(mechanisms), tuple(rows), ours, missing)


def _ours(table: SyscallTable | None, mechanism: str, calls: Sequence[str]) -> float | None:
    """Our share of `mechanism`'s CPU in `calls` together; None when it made none of them."""
    if table is None or mechanism not in table.mechanisms:
        return None
    found = [row.cells.get(mechanism) for row in table.rows if row.syscall in calls]
    cells = [cell for cell in found if cell is not None]
    values = [cell.percent for cell in cells if cell.percent is not None]
    return sum(values) if values else None


# -- each figure's headline number --------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """One number (or statement) of the paper's text beside ours."""

    source: str  # where the paper says it: "Figure 5 (section 5.1)"
    claim: str  # what is compared
    paper: str  # as the paper states it
    ours: str  # what this sweep measured, or NOT_MEASURED / NOT_PROFILED
    runs: str = ""  # what ours rests on
    measured: bool = False


def headlines(curves: Sequence[Curve], tables: Sequence[SyscallTable]) -> list[Headline]:
    """The paper's headline numbers beside ours, figure by figure (see the module docstring);
    `curves`: the curves on the paper's own links (`wanfindings.paper_curves`)."""
    return [
        *_peers("Figure 1 (section 5)", "one-byte", curves),
        *_peers("Figure 2 (section 5)", "specweb99", curves),
        *_techniques("Figure 3 (section 5)", "one-byte", curves),
        *_techniques("Figure 4 (section 5)", "specweb99", curves),
        *_profile(tables),
        *_idle("Figure 5 (section 5.1)", "one-byte", curves),
        *_idle("Figure 6 (section 5.1)", "specweb99", curves),
        *_accept(curves),
    ]


@dataclass(frozen=True)
class Compared:
    """`new`'s peak against `base`'s: the relative change, and what it rests on."""

    base: Curve
    new: Curve
    base_peak: Estimate
    new_peak: Estimate

    @property
    def relative(self) -> float:
        return self.new_peak.mean / self.base_peak.mean - 1 if self.base_peak.mean else 0.0

    @property
    def runs(self) -> str:
        return f"{self.new_peak.n} + {self.base_peak.n}"

    def text(self, name: str) -> str:
        """'select -61.8% (7,600 vs 19,900 replies/s)', naming a peak that is only a bound."""
        open_ended = [c for c in (self.new, self.base) if not c.saturated]
        bound = (
            "; not saturated, so a lower bound: " + ", ".join(_describe(c) for c in open_ended)
            if open_ended
            else ""
        )
        return (
            f"{name} {self.relative:+.1%} ({self.new_peak.mean:,.0f} vs"
            f" {self.base_peak.mean:,.0f} replies/s{bound})"
        )


def compare(base: Curve | None, new: Curve | None) -> Compared | None:
    """`new`'s peak against `base`'s, None when either has no ok run."""
    if base is None or new is None or base.peak is None or new.peak is None:
        return None
    return Compared(base, new, base.peak, new.peak)


def _peers(source: str, workload: str, curves: Sequence[Curve]) -> list[Headline]:
    """Figures 1 and 2: select and poll perform as well as epoll-LT (no idle connections)."""
    lt = find(curves, "epoll-lt", workload, 0)
    found = [(m, compare(lt, find(curves, m, workload, 0))) for m in ("select", "poll")]
    return [
        _row(
            source,
            f"{workload}, no idle connections: select's and poll's peak against epoll-LT's",
            "as well as epoll-LT (no number given)",
            found,
        )
    ]


def _techniques(source: str, workload: str, curves: Sequence[Curve]) -> list[Headline]:
    """Figures 3 and 4: the techniques that cut epoll_ctl calls against epoll-LT."""
    lt = find(curves, "epoll-lt", workload, 0)
    found = [
        (m, compare(lt, find(curves, m, workload, 0))) for m in ("epoll-ctlv", "epoll2", "epoll-et")
    ]
    stated = (
        "no significant benefit over epoll-LT (no number given)"
        if workload == "one-byte"
        else "all very similar; epoll-ET slightly ahead past saturation (no number given)"
    )
    return [
        _row(
            source,
            f"{workload}, no idle connections: each technique's peak against epoll-LT's",
            stated,
            found,
        )
    ]


def _idle(source: str, workload: str, curves: Sequence[Curve]) -> list[Headline]:
    """Figures 5 and 6 against 3 and 4: each mechanism's peak with idle connections over its
    peak without, at the paper's 10,000 (else the most this sweep measured) and, when the
    sweep measured more (`idle_connections: max`), at the most too: where a small lab's
    clients reach select's and poll's knee, so where the drop the paper reports can show."""
    counts = sorted({c.idle_connections for c in curves if c.workload == workload} - {0})
    idle = paper.IDLE_CONNECTIONS if paper.IDLE_CONNECTIONS in counts else max(counts, default=0)
    stated = {
        "select": f"down by up to {paper.IDLE_DROP:.0%} (with poll)",
        "poll": f"down by up to {paper.IDLE_DROP:.0%} (with select)",
        "epoll2": "suffers similarly to select and poll (no number given)",
        "epoll-lt": "slightly reduced (no number given)",
        "epoll-et": "not impacted (no number given)",
    }
    if workload == "specweb99":
        stated = {m: "impacted as in the one-byte workload (no number given)" for m in stated}
    most = max(counts, default=0)
    shown = [idle, most] if most > max(idle, paper.IDLE_CONNECTIONS) else [idle]
    rows = []
    for count in shown:
        where = f"{count:,} idle connections" if count else "idle connections"
        if count and count != paper.IDLE_CONNECTIONS and paper.IDLE_CONNECTIONS not in counts:
            where += f" (the paper's {paper.IDLE_CONNECTIONS:,} not measured)"
        elif count > paper.IDLE_CONNECTIONS:
            where += " (the most this lab held)"
        for mechanism, text in stated.items():
            found = compare(
                find(curves, mechanism, workload, 0), find(curves, mechanism, workload, count)
            )
            rows.append(
                _row(
                    source,
                    f"{workload}: {_label(mechanism)}'s peak with {where} over its peak without",
                    text,
                    [(mechanism, found if count else None)],
                )
            )
    return rows


def _accept(curves: Sequence[Curve]) -> list[Headline]:
    """Figure 7: the accept-limit of 10 against inf (one-byte, no idle connections)."""
    source = "Figure 7 (section 5.2)"
    rows = []
    for base, new, claim, stated in (
        (
            ("select", "inf"),
            ("epoll-lt", "10"),
            "epoll-LT at accept-limit 10: its peak against select's (at inf)",
            "now matches select (no number given)",
        ),
        (
            ("epoll-lt", "inf"),
            ("epoll-lt", "10"),
            "epoll-LT's peak at accept-limit 10 over at inf",
            "a marked improvement (no number given)",
        ),
        (
            ("epoll-ctlv", "inf"),
            ("epoll-ctlv", "10"),
            "epoll-ctlv's peak at accept-limit 10 over at inf",
            f"{paper.CTLV_ACCEPT_GAIN:+.0%}",
        ),
    ):
        found = compare(
            find(curves, base[0], "one-byte", 0, base[1]),
            find(curves, new[0], "one-byte", 0, new[1]),
        )
        rows.append(_row(source, claim, stated, [(new[0], found)]))
    rows.append(_gap(curves))
    return rows


def _gap(curves: Sequence[Curve]) -> Headline:
    """epoll-ctlv's reply rate at 21,000 requests/s, accept-limit 10 over inf."""
    rate = paper.CTLV_ACCEPT_GAP_RATE
    means = []
    for accept in ("inf", "10"):
        curve = find(curves, "epoll-ctlv", "one-byte", 0, accept)
        at = next((p for p in curve.points if p.rate == rate), None) if curve else None
        means.append(at.reply if at is not None else None)
    claim = f"epoll-ctlv's reply rate at {rate:,.0f} requests/s, accept-limit 10 over inf"
    stated = f"{paper.CTLV_ACCEPT_GAP:+.0%}"
    base, new = means
    if base is None or new is None or not base.mean:
        return Headline("Figure 7 (section 5.2)", claim, stated, NOT_MEASURED, "", False)
    ours = f"{new.mean / base.mean - 1:+.1%} ({new.mean:,.0f} vs {base.mean:,.0f} replies/s)"
    runs = f"{new.n} + {base.n} runs at that rate"
    return Headline("Figure 7 (section 5.2)", claim, stated, ours, runs, True)


def _profile(tables: Sequence[SyscallTable]) -> list[Headline]:
    """Table 1's numbers the text states, beside our profile's (one-byte, no idle)."""
    source = f"Table 1 (section 5, {paper.TABLE1_RATE:,.0f} requests/s)"
    ours = paper_table(tables)
    t1 = paper.TABLE1

    def share(mechanism: str, *calls: str) -> tuple[float | None, int]:
        if ours is None or not ours.profiled:
            return None, 0
        runs = next((c.runs for c in ours.columns if c.mechanism == mechanism), 0)
        return _ours(ours, mechanism, calls), runs

    def row(claim: str, stated: str, found: list[tuple[str, float | None, int]]) -> Headline:
        if ours is None or not ours.profiled:
            return Headline(source, claim, stated, NOT_MEASURED if ours is None else NOT_PROFILED)
        parts = [f"{_label(m)} {v:.2f} %" for m, v, _ in found if v is not None]
        runs = ", ".join(f"{_label(m)} {_count(n)}" for m, v, n in found if v is not None)
        absent = [_label(m) for m, _, _ in found if m not in ours.mechanisms]
        unmade = [_label(m) for m, v, _ in found if v is None and m in ours.mechanisms]
        notes = [f"{', '.join(absent)}: {NOT_MEASURED}"] if absent else []
        notes += [f"{', '.join(unmade)}: no such call made"] if unmade else []
        if not parts:
            return Headline(source, claim, stated, "; ".join(notes), "", False)
        at = f" at {ours.rate:,.0f} requests/s" if ours.rate else ""
        text = ", ".join(parts) + at + "".join(f"; {note}" for note in notes)
        return Headline(source, claim, stated, text, runs, True)

    def pct(mechanism: str, call: str) -> str:
        return f"{t1[mechanism][call]:.2f} %"

    events = ("epoll_ctl", "epoll_ctlv", "epoll_wait")
    rows = [
        row(
            "select's share in select, poll's in poll",
            f"{pct('select', 'select')} and {pct('poll', 'poll')}"
            f' ("about {paper.SELECT_POLL_EVENTS:.0f}%")',
            [("select", *share("select", "select")), ("poll", *share("poll", "poll"))],
        ),
        row(
            "epoll-LT's share in epoll_ctl",
            pct("epoll-lt", "epoll_ctl"),
            [("epoll-lt", *share("epoll-lt", "epoll_ctl"))],
        ),
        row(
            "epoll-ET's share in epoll_ctl",
            f'{pct("epoll-et", "epoll_ctl")} ("reduced ... from 16% to 11%")',
            [("epoll-et", *share("epoll-et", "epoll_ctl"))],
        ),
        row(
            "share in epoll_ctl, epoll_ctlv and epoll_wait together",
            f"about {paper.EPOLL_EVENTS[0]:.0f}–{paper.EPOLL_EVENTS[1]:.0f} % for epoll-LT,"
            " epoll-ctlv and epoll2",
            [(m, *share(m, *events)) for m in ("epoll-lt", "epoll-ctlv", "epoll2")],
        ),
        row(
            "epoll_wait's share: epoll2 against epoll-LT",
            f"twice as much: {pct('epoll2', 'epoll_wait')} vs {pct('epoll-lt', 'epoll_wait')}",
            [(m, *share(m, "epoll_wait")) for m in ("epoll2", "epoll-lt")],
        ),
        row(
            "epoll-ctlv's share in epoll_ctlv and epoll_ctl",
            f"around {paper.CTLV_TIME:.0f} %"
            f" ({pct('epoll-ctlv', 'epoll_ctlv')} + {pct('epoll-ctlv', 'epoll_ctl')}),"
            " about epoll-LT's in epoll_ctl",
            [(m, *share(m, "epoll_ctlv", "epoll_ctl")) for m in ("epoll-ctlv", "epoll-lt")],
        ),
        _calls(source, ours),
    ]
    return rows


def _calls(source: str, ours: SyscallTable | None) -> Headline:
    """epoll-ctlv's interest-set calls against epoll-LT's (per reply: runs differ in length)."""
    claim = "epoll-ctlv's epoll_ctlv + epoll_ctl calls against epoll-LT's epoll_ctl calls"
    stated = (
        f"{paper.CTLV_CALLS:,} vs {paper.LT_CTL_CALLS:,}"
        f" ({paper.CTLV_CALLS / paper.LT_CTL_CALLS:.2f}×: about half)"
    )
    columns = {c.mechanism: c for c in ours.columns} if ours is not None else {}
    ctlv, lt = columns.get("epoll-ctlv"), columns.get("epoll-lt")
    if ctlv is None or lt is None or not ctlv.replies or not lt.replies or not lt.interest_calls:
        return Headline(source, claim, stated, NOT_MEASURED, "", False)
    mine, theirs = ctlv.interest_calls / ctlv.replies, lt.interest_calls / lt.replies
    ours_text = f"{mine / theirs:.2f}× ({mine:.2f} vs {theirs:.2f} calls per reply)"
    return Headline(source, claim, stated, ours_text, f"{ctlv.runs} + {lt.runs} runs", True)


def _row(
    source: str, claim: str, stated: str, found: Sequence[tuple[str, Compared | None]]
) -> Headline:
    measured = [(m, c) for m, c in found if c is not None]
    if not measured:
        return Headline(source, claim, stated, NOT_MEASURED, "", False)
    ours = "; ".join(c.text(_label(m)) for m, c in measured)
    missing = [_label(m) for m, c in found if c is None]
    if missing:
        ours += f"; {', '.join(missing)}: {NOT_MEASURED}"
    runs = ", ".join(f"{_label(m)} {c.runs}" for m, c in measured)
    return Headline(source, claim, stated, ours, f"{runs} runs at the peaks", True)


def _count(runs: int) -> str:
    return f"{runs} run" if runs == 1 else f"{runs} runs"


def _describe(curve: Curve) -> str:
    idle = f"{curve.idle_connections:,} idle" if curve.idle_connections else "no idle"
    accept = f", accept-limit {curve.accept_limit}" if curve.accept_limit != "inf" else ""
    return f"{_label(curve.mechanism)} ({idle}{accept})"


def _label(mechanism: str) -> str:
    return MECHANISM_LABELS.get(mechanism, mechanism)
