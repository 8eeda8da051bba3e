"""The report on a sweep where select saturated and the clients fell behind on epoll-ET: the
saturated points are the server's result (on its curve, in its peak and knee), the figure marks
them, draws each curve's measured knee and the clients' ceiling, and its CSV carries both; the
point list and points.csv say how busy the server was; stores from before any of it still read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure as MplFigure
from matplotlib.patches import Rectangle

from orchestrator.report.analysis.build import build
from orchestrator.report.analysis.data import curves
from orchestrator.report.analysis.sweep import SweepData
from orchestrator.report.figures import render as drawing
from orchestrator.report.html.reach import reach_section
from orchestrator.report.write import write_report
from orchestrator.results.records import ServerCpu
from orchestrator.results.store import Store
from tests.support.report_stores import P, assert_figures_match_store, csv_rows, sweep_with


def busy(cpu_seconds: float) -> dict[str, object]:
    """The server data of a point whose server ran `cpu_seconds` over a 4 s load."""
    use = ServerCpu(cpu_seconds, 4.3, 4.0, 1, 1)
    return {"cpu_seconds": cpu_seconds, "totals": {}, "cpu_use": use.as_dict()}


CAPACITY = {
    "kept_up": 20000.0,
    "fell_behind": 23000.0,
    "issued": 21000.0,
    "kept_up_at": "one-byte/idle=19000/accept=inf/epoll-et/rate=20000/rep=1",
    "fell_behind_at": "one-byte/idle=19000/accept=inf/epoll-et/rate=23000/rep=1",
    "evidence": "kept up with 20,000 at ...; not counted as falling behind: 1 saturated point",
}


def sweep(store: Store) -> str:
    points = [
        P("select", 8000, 7877, idle=19000, server=busy(3.82)),
        P("select", 11000, 10799, idle=19000, server=busy(3.93)),
        P("select", 14000, 10443, idle=19000, status="saturated", server=busy(4.51)),
        P("epoll-et", 8000, 7990, idle=19000, server=busy(0.6)),
        P("epoll-et", 14000, 13956, idle=19000, server=busy(1.1)),
        P("epoll-et", 20000, 19850, idle=19000, server=busy(1.52)),
        P("epoll-et", 23000, 17792, idle=19000, status="client-limited", server=busy(1.56)),
    ]
    sweep_id = sweep_with(store, points)
    store.update_settings(
        sweep_id,
        {
            "experiment": {"repetitions": 1, "knee": True},
            "client_capacity": CAPACITY,
            "client_capacity_by_workload": {"one-byte": CAPACITY},
            "curve_endings": {
                "one-byte/idle=19000/accept=inf/select/rep=1": {
                    "ended_by": "saturated",
                    "rate": 14000,
                    "evidence": "server at 113 % of its 1 core over the 4 s load",
                },
                "one-byte/idle=19000/accept=inf/epoll-et/rep=1": {
                    "ended_by": "client-limited",
                    "rate": 23000,
                    "evidence": "server at 39 % of its 1 core with headroom",
                },
            },
        },
    )
    return sweep_id


def test_a_saturated_point_is_the_servers_result_and_its_knee(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    data = SweepData.load(store, sweep(store))
    select, epoll = curves(data)
    assert select.mechanism == "select"
    top = select.points[-1]
    assert [r.status for r in top.ok] == ["saturated"]  # averaged in, as the server's result
    assert select.peak is not None and select.peak.mean == 10799  # the peak: before the knee
    assert select.saturated and select.saturation.estimate is not None
    knee = select.saturation.estimate.mean
    assert 11000 < knee < 14000  # where it stopped tracking, between the two rates
    assert not epoll.saturated  # its shortfall was the clients': no knee of the server's


def test_the_figure_draws_the_knee_and_the_clients_ceiling(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    report = build(SweepData.load(store, sweep(store)))
    [figure] = [f for f in report.figures if f.number == "5"]
    assert figure.clients is not None and figure.clients.ceiling == (21000.0, 23000.0)
    canvas = MplFigure()
    drawing._throughput(canvas, figure)
    axes = canvas.axes[0]
    drawn_legend = axes.get_legend()
    assert drawn_legend is not None
    legend = [text.get_text() for text in drawn_legend.get_texts()]
    assert any(t.startswith("select (knee ") for t in legend), legend
    assert "epoll-ET" in legend  # no knee of its own
    for label in (
        "saturated (the server at its cores' limit)",
        "measured knee (saturation)",
        "clients' ceiling (21,000-23,000 requests/s offered)",
        "client-limited run (not the server's result)",
    ):
        assert label in legend, legend
    knee = select_knee(report)
    verticals = [_xs(line)[0] for line in axes.get_lines() if _vertical(line)]
    assert verticals == [knee]  # one knee line, select's
    [band] = axes.patches  # the clients' ceiling, the only patch drawn on the axes
    assert isinstance(band, Rectangle)  # axvspan's band
    assert (band.get_x(), band.get_x() + band.get_width()) == (21000.0, 23000.0)


def select_knee(report: object) -> float:
    from orchestrator.report.analysis.build import Report

    assert isinstance(report, Report)
    [select] = [c for c in report.curves if c.mechanism == "select"]
    assert select.saturation.estimate is not None
    return select.saturation.estimate.mean


def _vertical(line: object) -> bool:
    from matplotlib.lines import Line2D

    assert isinstance(line, Line2D)
    xs = _xs(line)
    return len(xs) == 2 and xs[0] == xs[1]


def _xs(line: object) -> list[float]:
    """A drawn line's x coordinates (matplotlib types them as any array-like)."""
    from matplotlib.lines import Line2D

    assert isinstance(line, Line2D)
    return [float(x) for x in np.asarray(line.get_xdata(), dtype=float)]


def test_the_files_carry_the_knee_the_ceiling_and_the_servers_cpu(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep_id = sweep(store)
    directory = write_report(store, sweep_id).directory
    assert_figures_match_store(directory, store, sweep_id)
    rows = csv_rows(directory / "figure-5-one-byte-idle19000.csv")
    select = [row for row in rows if row["mechanism"] == "select"]
    assert [row["saturated_runs"] for row in select] == ["0", "0", "1"]
    assert len({row["knee_rate"] for row in select}) == 1 and select[0]["knee_rate"]
    assert all(row["knee_rate"] == "" for row in rows if row["mechanism"] == "epoll-et")
    assert {(row["clients_kept_up"], row["clients_fell_behind"]) for row in rows} == {
        ("20000.0", "23000.0")
    }
    points = {row["point"]: row for row in csv_rows(directory / "points.csv")}
    top = points["one-byte/idle=19000/accept=inf/select/rate=14000/rep=1"]
    assert top["status"] == "saturated"
    assert float(top["server_cpu_busy"]) == 4.51 / 4.0
    assert float(top["server_cpu_utilisation"]) == round(4.51 / 4.3, 4)
    page = (directory / "index.html").read_text()
    assert '<tr class="saturated">' in page
    assert "server at 113 % of its 1 core" in page  # the ending's evidence
    assert "Grey band: the clients&#39; ceiling" in page  # escaped, as every value


def test_a_store_from_before_saturation_still_reads(tmp_path: Path) -> None:
    """No `cpu_use`, no evidence, the capacity's three rates only: all still read."""
    store = Store.open(tmp_path)
    old = sweep_with(store, [P("select", 1000, 990), P("select", 2000, 1200)])
    store.update_settings(
        old,
        {
            "experiment": {"repetitions": 1, "knee": True},
            "client_capacity": {"kept_up": 2000, "fell_behind": None, "issued": None},
            "curve_endings": {
                "one-byte/idle=0/accept=inf/select/rep=1": {"ended_by": "upper bound", "rate": 2000}
            },
        },
    )
    directory = write_report(store, old).directory
    points = csv_rows(directory / "points.csv")
    assert all(row["server_cpu_busy"] == "" for row in points)
    page = (directory / "index.html").read_text()
    assert "upper bound at 2,000" in page and "Grey band" not in page
    assert "they kept up with up to 2,000 requests/s" in page
    section = reach_section(SweepData.load(store, old).settings, knee=True)
    assert "not reached" in section
