"""The paper beside us: its Table 1 (data, checked against what its text says of it) column by
column next to our profile, and each figure's headline number next to this sweep's."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.report.analysis import paper
from orchestrator.report.analysis.beside import CALL, NOT_MEASURED, OURS_ONLY, TOTAL, table1_beside
from orchestrator.report.analysis.build import build
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.analysis.syscalls import NOT_PROFILED, PASS, syscall_table
from orchestrator.report.write import write_report
from orchestrator.results.store import Store
from orchestrator.run.servermetrics import difference, parse
from tests.support.report_stores import P, csv_rows, sweep_with

FIXTURES = Path(__file__).parents[1] / "run" / "fixtures"


def captured(name: str) -> dict[str, object]:
    def text(when: str) -> str:
        return (FIXTURES / f"server-{name}-{when}.prom").read_text()

    return difference(parse(text("before")), parse(text("after")))


def measured(mechanism: str, name: str, **changes: object) -> P:
    """A point whose server counters are a real scrape (`name`: a fixture)."""
    server = captured(name)
    calls = server["syscalls"]
    assert isinstance(calls, dict)
    syscalls = {n: (int(v["calls"]), float(v["seconds"])) for n, v in calls.items() if v["calls"]}
    spec = P(mechanism, 1000, 1000.0, server=server, syscalls=syscalls, window=10.0)
    for key, value in changes.items():
        setattr(spec, key, value)
    return spec


# -- the paper's Table 1, as data -----------------------------------------------------------------


def test_the_papers_table1_agrees_with_what_its_text_says_of_it() -> None:
    t1 = paper.TABLE1
    assert set(t1) == set(paper.TABLE1_MECHANISMS)
    assert all(set(column) == set(paper.TABLE1_ROWS) for column in t1.values())
    for mechanism, column in t1.items():  # calls that contributed little are left out
        assert 50 < sum(v for v in column.values() if v is not None) < 100, mechanism
    assert t1["epoll-lt"]["epoll_ctl"] == 16.34 and t1["epoll-et"]["epoll_ctl"] == 11.06
    for mechanism in ("select", "poll"):  # "about 13% of their time"
        assert t1[mechanism][mechanism] == pytest.approx(paper.SELECT_POLL_EVENTS, abs=0.5)
        assert t1[mechanism]["epoll_ctl"] is None
    low, high = paper.EPOLL_EVENTS  # "about 21 - 23%" in their event calls
    for mechanism in ("epoll-lt", "epoll-ctlv", "epoll2"):
        events = [t1[mechanism][c] for c in ("epoll_ctl", "epoll_ctlv", "epoll_wait")]
        assert low - 0.6 <= sum(v for v in events if v is not None) <= high + 0.6, mechanism
    epoll2_wait, lt_wait = t1["epoll2"]["epoll_wait"], t1["epoll-lt"]["epoll_wait"]
    assert epoll2_wait is not None and lt_wait is not None
    assert epoll2_wait / lt_wait == pytest.approx(2, rel=0.15)
    batched, single = t1["epoll-ctlv"]["epoll_ctlv"], t1["epoll-ctlv"]["epoll_ctl"]
    assert batched is not None and single is not None
    assert batched + single == pytest.approx(paper.CTLV_TIME, abs=1)
    assert pytest.approx(0.5, abs=0.02) == paper.CTLV_CALLS / paper.LT_CTL_CALLS  # "half"


# -- ours beside it ------------------------------------------------------------------------------


def profiled_sweep(tmp_path: Path) -> SweepData:
    store = Store.open(tmp_path)
    points = [
        measured(m, f"{m}-wall", rate=r, reply=r * 0.99)
        for m in ("select", "epoll-lt")
        for r in (1000, 2000)
    ]
    points += [
        measured(m, m, rate=2000, reply=1990.0, profiling=True) for m in ("select", "epoll-lt")
    ]
    return SweepData.load(store, sweep_with(store, points))


def test_our_profile_stands_beside_the_papers_column_by_column(tmp_path: Path) -> None:
    data = profiled_sweep(tmp_path)
    table = syscall_table(data, "one-byte", 0, "inf")
    assert table.source == PASS and table.profiled
    beside = table1_beside([table])
    assert not beside.missing
    assert beside.mechanisms[: len(paper.TABLE1_MECHANISMS)] == paper.TABLE1_MECHANISMS
    rows = {row.name: row for row in beside.rows}
    for row in beside.rows:
        for mechanism, share in row.shares.items():
            if row.kind == CALL:
                assert share.paper == paper.TABLE1[mechanism][row.name]
            if share.ours is not None:
                assert share.ours > 0, (row.name, mechanism)
    for mechanism in ("select", "epoll-lt"):
        made = {r.syscall for r in table.rows if mechanism in r.cells}
        for row in beside.rows:
            if row.kind in (CALL, OURS_ONLY) and set(row.ours_as) & made:
                assert (row.shares[mechanism].ours or 0) > 0, (row.name, mechanism)
        total = rows["all system calls"]
        assert total.kind == TOTAL and 0 < (total.shares[mechanism].ours or 0) <= 100
        assert beside.runs(mechanism) == 1
    assert rows["accept"].ours_as[0] == "accept4" and rows["accept"].shares["select"].ours
    assert rows["epoll_ctl"].shares["select"].ours is None  # select makes no epoll_ctl
    assert rows["fcntl"].shares["epoll-lt"].ours is None  # accept4 sets O_NONBLOCK
    assert all(row.shares["epoll-ctlv"].ours is None for row in beside.rows)  # not measured
    assert "sendmsg" in rows and rows["sendmsg"].kind == OURS_ONLY


def test_a_table_that_is_no_cpu_profile_stands_beside_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    points = [measured(m, f"{m}-wall") for m in ("select", "epoll-lt")]
    data = SweepData.load(store, sweep_with(store, points))
    beside = table1_beside([syscall_table(data, "one-byte", 0, "inf")])
    assert beside.missing == NOT_PROFILED
    assert all(share.ours is None for row in beside.rows for share in row.shares.values())
    assert table1_beside([]).missing.startswith(NOT_MEASURED)


# -- each figure's headline number --------------------------------------------------------------


def curve(mechanism: str, idle: int, capacity: float, reps: int = 2) -> list[P]:
    return [
        P(mechanism, rate, min(rate, capacity) * (1 + 0.005 * rep), idle=idle, rep=rep)
        for rep in range(1, reps + 1)
        for rate in (4000, 8000, 12000)
    ]


def test_the_headlines_set_our_numbers_beside_the_papers(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    points = [
        *curve("select", 0, 11000),
        *curve("poll", 0, 11500),
        *curve("epoll-lt", 0, 11000),
        *curve("epoll-et", 0, 12000),
        *curve("select", 10000, 5000),  # saturates early with idle connections
        *curve("epoll-et", 10000, 12000),
    ]
    sweep = sweep_with(store, points)
    report = build(SweepData.load(store, sweep))
    rows = {(h.source.split(" (")[0], h.claim): h for h in report.paper}
    assert all(h.paper for h in report.paper)
    assert all(h.runs for h in report.paper if h.measured)
    assert all(
        h.ours.startswith(NOT_MEASURED) or h.ours == NOT_PROFILED
        for h in report.paper
        if not h.measured
    )
    select_idle = next(
        h
        for (figure, claim), h in rows.items()
        if figure == "Figure 5" and claim.startswith("one-byte: select")
    )
    assert "79%" in select_idle.paper
    assert select_idle.measured and select_idle.ours.startswith("select -")  # a drop
    assert "2 + 2" in select_idle.runs  # two runs at each peak
    et_idle = next(
        h for (figure, claim), h in rows.items() if figure == "Figure 5" and "epoll-ET" in claim
    )
    assert et_idle.measured and "not saturated" in et_idle.ours  # its peak is a lower bound
    poll_idle = next(
        h for (f, c), h in rows.items() if f == "Figure 5" and c.startswith("one-byte: poll")
    )
    assert not poll_idle.measured and poll_idle.ours == NOT_MEASURED  # no poll with idle
    figure1 = next(h for (f, _), h in rows.items() if f == "Figure 1")
    assert figure1.measured and "select" in figure1.ours and "poll" in figure1.ours
    assert all(not h.measured for (f, _), h in rows.items() if f in ("Figure 2", "Figure 7"))
    assert all(
        h.ours == NOT_PROFILED or not h.measured for (f, _), h in rows.items() if f == "Table 1"
    )
    written = write_report(store, sweep, directory=tmp_path / "reports")
    page = written.index.read_text()
    assert 'id="paper"' in page and "The paper beside us" in page
    csv = csv_rows(written.directory / "paper.csv")
    assert len(csv) == len(report.paper) and {row["measured"] for row in csv} == {"True", "False"}


def test_the_table1_headlines_come_from_our_profile(tmp_path: Path) -> None:
    data = profiled_sweep(tmp_path)
    report = build(data)
    table1 = [h for h in report.paper if h.source.startswith("Table 1")]
    lt = next(h for h in table1 if h.claim == "epoll-LT's share in epoll_ctl")
    assert lt.paper.startswith("16.34") and lt.measured and lt.ours.startswith("epoll-LT ")
    assert "2,000 requests/s" in lt.ours and lt.runs == "epoll-LT 1 run"
    ctlv = next(h for h in table1 if "calls against" in h.claim)
    assert not ctlv.measured  # no epoll-ctlv in this sweep
    et = next(h for h in table1 if h.claim == "epoll-ET's share in epoll_ctl")
    assert not et.measured and et.ours == f"epoll-ET: {NOT_MEASURED}"
    wait = next(h for h in table1 if h.claim.startswith("epoll_wait's share"))
    assert wait.measured and wait.ours.endswith(f"epoll2: {NOT_MEASURED}")
    written = write_report(
        Store.open(tmp_path, readonly=True), data.id, directory=tmp_path / "reports"
    )
    rows = csv_rows(written.directory / "table1-paper.csv")
    lt_ctl = next(r for r in rows if (r["row"], r["mechanism"]) == ("epoll_ctl", "epoll-lt"))
    assert float(lt_ctl["paper_percent"]) == 16.34 and float(lt_ctl["our_percent"]) > 0


def test_figure_5_stands_at_the_papers_10000_and_at_the_most_idle_connections(
    tmp_path: Path,
) -> None:
    """With `idle_connections: [0, 10000, max]` the paper's drop is set beside ours twice: at
    its 10,000 (where a small lab's clients stop before select's knee) and at the most the lab
    held (where it shows)."""
    store = Store.open(tmp_path)
    points = [
        *curve("select", 0, 11000),
        *curve("select", 10000, 11000),  # unchanged: its knee is beyond the clients
        *curve("select", 19000, 6000),  # the drop
    ]
    report = build(SweepData.load(store, sweep_with(store, points)))
    select = [
        h
        for h in report.paper
        if h.source.startswith("Figure 5") and h.claim.startswith("one-byte: select")
    ]
    assert [("10,000 idle" in h.claim, "19,000 idle" in h.claim) for h in select] == [
        (True, False),
        (False, True),
    ]
    assert "the most this lab held" in select[1].claim
    assert select[1].ours.startswith("select -") and "79%" in select[1].paper
