"""`orchestrate report` and `orchestrate compare` on hand-made stores: the files, their data, the
page, the exit statuses."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from orchestrator.report.write import write_report
from orchestrator.results.store import Store
from orchestrator.run.up import write_sweep_report
from orchestrator.ui import Terminal
from tests.support.labtools import orchestrate
from tests.support.report_stores import (
    P,
    assert_figures_match_store,
    assert_png_drawn,
    csv_rows,
    new_sweep,
    repeated,
    sweep_with,
)


def test_a_report_from_several_repetitions_holds_the_stores_numbers(
    tmp_path: Path, state_dir: Path
) -> None:
    store = Store.open(tmp_path)
    sweep = sweep_with(store, repeated(), repetitions=3)
    result = orchestrate("report", str(tmp_path), state=state_dir)
    assert result.returncode == 0, result.stderr
    directory = tmp_path / "reports" / sweep
    assert str(directory / "index.html") in result.stdout.replace("\n", "")
    assert_figures_match_store(directory, store, sweep)
    pngs = sorted(directory.glob("*.png"))
    assert [p.name for p in pngs][:3] == [
        "figure-1-one-byte-idle0.png",
        "figure-3-one-byte-idle0.png",
        "figure-5-one-byte-idle1000.png",
    ]
    assert all(p.name.startswith("figure-A") for p in pngs[3:])
    for png in pngs:
        assert_png_drawn(png)
        assert png.with_suffix(".svg").read_text().lstrip().startswith("<?xml")
        assert png.with_suffix(".csv").exists()
    page = (directory / "index.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(pngs)
    assert "beyond the paper" in page and "(the paper's beyond the paper)" not in page
    for link in ("points.csv", "../../testbed.sqlite", "figure-A1-one-byte-idle0-cost.svg"):
        assert f'href="{link}"' in page, link
    for text in (
        "The paper's findings, checked",
        "Table 1",
        "Idle-connection degradation",
        "3 repetitions per point",
        "Emulated lab.",
        "Unit CPU @ 2.4GHz",
        "6.18.0",
        "client-limited",
        "failed on purpose",
    ):
        assert text in page, text
    [table] = [
        row
        for row in csv_rows(directory / "table1-one-byte-idle0.csv")
        if (row["syscall"], row["mechanism"]) == ("epoll_ctl", "epoll-lt")
    ]
    assert float(table["rate"]) == 2000.0 and float(table["percent"]) == 30.0  # 0.6 s of 2 s
    idle = {row["mechanism"]: row for row in csv_rows(directory / "idle.csv")}
    # The same CPU over fewer replies with idle connections: select costs more per reply.
    assert float(idle["select"]["cpu_per_reply_ratio"]) > 1.5
    assert float(idle["epoll-lt"]["cpu_per_reply_ratio"]) == pytest.approx(1.0, abs=0.01)
    assert idle["select"]["verdict"] == "worse" and idle["epoll-lt"]["verdict"] == (
        "no significant change"
    )
    rows = {row["paper"]: row for row in csv_rows(directory / "findings.csv")}
    findings = {paper: row["verdict"] for paper, row in rows.items()}
    assert findings["Figures 5 and 6"] == "not measured"  # no epoll-ET in this sweep
    assert set(findings.values()) <= {"holds", "does not hold", "inconclusive", "not measured"}
    # select's peak rate has 2 ok runs (one was client-limited): too few for a verdict, and
    # the verdict says so, on the page too.
    stated = rows["Figures 1 and 2"]["stated"]
    assert findings["Figures 1 and 2"] == "inconclusive" and stated.startswith("inconclusive")
    assert stated.endswith("at least 3 runs per curve would decide it")
    assert html.escape(stated.removeprefix("inconclusive")) in page
    # The runs each curve achieved, not only those planned: select lost one at 3,000.
    assert "<td>select</td><td>1,000: 3 · 2,000: 3 · 3,000: 2</td><td>2 at 3,000</td>" in page
    assert "<td>epoll-LT</td><td>1,000: 3 · 2,000: 3 · 3,000: 3</td><td>3 at 3,000</td>" in page


def test_single_runs_are_labelled_and_an_older_report_is_replaced(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = sweep_with(store, [P("poll", 1000, 1000.0), P("poll", 2000, 1500.0)])
    directory = write_report(store, sweep).directory
    (directory / "stale.txt").write_text("from an older report")
    assert write_report(store, sweep).directory == directory
    assert not (directory / "stale.txt").exists()
    page = (directory / "index.html").read_text()
    assert "Every point is a single run" in page and "(single run)" in page
    assert [p.name for p in directory.parent.iterdir()] == [sweep]  # no staging left behind


def test_table_1_says_when_the_server_was_preempted_inside_its_calls(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    starved = sweep_with(store, [P("poll", 1000, 900.0, cpu=0.2, syscalls={"read": (900, 0.5)})])
    page = (write_report(store, starved).directory / "index.html").read_text()
    assert "the server was preempted inside them" in page
    assert "250.00" in page  # 0.5 s in read over 0.2 CPU seconds
    fine = sweep_with(store, [P("poll", 1000, 900.0, cpu=2.0, syscalls={"read": (900, 0.5)})])
    assert "preempted" not in (write_report(store, fine).directory / "index.html").read_text()


def test_report_and_compare_exit_statuses(tmp_path: Path, state_dir: Path) -> None:
    store = Store.open(tmp_path)
    base = sweep_with(store, repeated(), repetitions=3)
    slower = [
        P(
            p.mechanism,
            p.rate,
            (p.reply or 0) * 0.5 if p.reply else None,
            rep=p.rep,
            idle=p.idle,
            status=p.status,
        )
        for p in repeated()
    ]
    new = sweep_with(store, slower, repetitions=3, now=1_800_000_500.0)

    worse = orchestrate("compare", str(tmp_path), base, new, state=state_dir)
    assert worse.returncode == 1, worse.stdout + worse.stderr
    assert "significantly worse" in worse.stdout
    page = tmp_path / "reports" / f"compare-{base}--{new}.html"
    assert page.exists() and "significantly worse" in page.read_text()

    same = orchestrate("compare", str(tmp_path), base, base, state=state_dir)
    assert same.returncode == 0 and "nothing significantly worse" in same.stdout

    loose = orchestrate("compare", str(tmp_path), base, new, "--threshold", "60", state=state_dir)
    assert loose.returncode == 0, loose.stdout  # a 50 % drop is under a 60 % threshold

    missing = orchestrate("report", str(tmp_path), "--sweep", "nope", state=state_dir)
    assert missing.returncode == 2 and "error: --sweep: 'nope': no such sweep" in missing.stderr
    rate = orchestrate("report", str(tmp_path), "--profile-rate", "1234", state=state_dir)
    assert rate.returncode == 2 and "1234 was not measured" in rate.stderr
    chosen = orchestrate(
        "report", str(tmp_path), "--sweep", base, "--profile-rate", "1000", state=state_dir
    )
    assert chosen.returncode == 0, chosen.stderr
    rows = csv_rows(tmp_path / "reports" / base / "table1-one-byte-idle0.csv")
    assert {float(row["rate"]) for row in rows} == {1000.0}
    nothing = orchestrate("report", str(tmp_path / "empty"), state=state_dir)
    assert nothing.returncode == 2 and "no results store here" in nothing.stderr  # bad input


def test_a_report_that_cannot_be_written_is_only_a_warning_at_the_end_of_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store.open(tmp_path)
    sweep = store.sweep(new_sweep(store))  # interrupted before its first point: nothing to report
    assert sweep is not None
    write_sweep_report(store, sweep, Terminal())
    assert (
        f"warning: the report of sweep {sweep.id} could not be written" in capsys.readouterr().err
    )
    assert not (tmp_path / "reports" / sweep.id).exists()


def test_the_page_says_where_the_points_time_went(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    sweep = sweep_with(
        store,
        [
            P("select", 1000, 1000.0, window=5.5),
            P("select", 2000, 2000.0, window=6.5),
            P("epoll-lt", 1000, 1000.0, status="failed"),
        ],
    )
    page = (write_report(store, sweep).index).read_text()
    section = page[page.index('<h2 id="phases">') :]
    section = section[: section.index("</table>")]
    assert "Time per phase" in section
    # mean and max over the points not failed; the failed one (no phase) is left out
    assert '<td>measure</td><td class="num">6.00</td><td class="num">6.50</td>' in section
    assert "point (wall)" in section


def test_the_lab_section_says_why_it_ran_the_most_idle_connections_it_could() -> None:
    from orchestrator.report.html.lab import idle_counts_note

    why = "the server's open-file hard limit, 20,000, less 1,000 <for> its own"
    settings = {
        "experiment": {
            "idle_connections": [0, 10000],
            "idle_max": True,
            "idle_max_value": 19000,
            "idle_max_why": why,
        }
    }
    note = idle_counts_note(settings)
    assert "0, 10,000, 19,000" in note and "19,000 is <code>max</code>" in note
    assert "&lt;for&gt;" in note  # escaped
    assert idle_counts_note({"experiment": {"idle_connections": [0, 10000]}}) == ""
