"""Subcommands that read the results store: export, report, compare."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.cli.app import app
from orchestrator.cli.conventions import (
    Format,
    JsonOption,
    ResultsArgument,
    codes,
    command,
    latest_sweep,
    open_store,
    print_json,
)
from orchestrator.errors import EXIT_FAILURE, EXIT_USAGE, TestbedError
from orchestrator.nightly.baseline import environment_drift
from orchestrator.report.analysis.compare import COLUMNS, Comparison, cells, compare_sweeps
from orchestrator.report.terminal import print_comparison
from orchestrator.report.write import write_comparison, write_report
from orchestrator.results import export
from orchestrator.results.records import check_sweep_id
from orchestrator.ui import console, warn


@command(app, "export", codes())
def export_command(
    results: ResultsArgument,
    fmt: Annotated[
        Format, typer.Option("--format", metavar="[csv|json]", help="The output's format.")
    ] = Format.csv,
    output: Annotated[Path | None, typer.Option("--output", help="File to write.")] = None,
    sweep: Annotated[str | None, typer.Option("--sweep", help="Only this sweep.")] = None,
) -> None:
    """Write one row per point (all sweeps, or one) as CSV or JSON."""
    if sweep is not None:
        check_sweep_id(sweep, "--sweep")
    store = open_store(results, readonly=True)
    if sweep is not None and store.sweep(sweep) is None:
        raise TestbedError(f"--sweep: {sweep!r}: no such sweep in {store.path}", EXIT_USAGE)
    text = export.render(export.rows(store, sweep), fmt.value)
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text)
    except OSError as error:
        raise TestbedError(f"--output: {output}: {error.strerror}", EXIT_USAGE) from None
    console.print(f"wrote {output}")


@command(app, "report", codes(failed="the report could not be written"))
def report_command(
    results: ResultsArgument,
    sweep: Annotated[
        str | None, typer.Option("--sweep", help="The sweep to report (default: the latest).")
    ] = None,
    profile_rate: Annotated[
        float | None,
        typer.Option(
            "--profile-rate",
            help="Table 1 from the throughput points at this rate (default: the profiling"
            " pass, else the highest rate at which every mechanism was ok).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", help="Write it under this directory (default: RESULTS/reports)."),
    ] = None,
) -> None:
    """Write a sweep's report (figures, Table 1, findings) under RESULTS/reports/<sweep>/."""
    if sweep is not None:
        check_sweep_id(sweep, "--sweep")
    store = open_store(results, readonly=True)
    sweep_id = sweep if sweep is not None else latest_sweep(store)
    check_sweep_id(sweep_id, f"the latest sweep in {store.path}")
    if store.sweep(sweep_id) is None:
        raise TestbedError(f"--sweep: {sweep_id!r}: no such sweep in {store.path}", EXIT_USAGE)
    try:
        written = write_report(store, sweep_id, profile_rate, output)
    except OSError as error:
        where = error.filename or output or store.path.parent
        raise TestbedError(
            f"cannot write the report in {where}: {error.strerror} (--output DIR writes it"
            " elsewhere)",
            EXIT_USAGE,
        ) from None
    for finding in written.report.findings:
        console.print(f"{finding.source}: {finding.stated}", markup=False, soft_wrap=True)
    console.print(f"report of sweep [bold]{sweep_id}[/]: {written.index}")


@command(app, "compare", codes(failed="a curve is significantly worse (a regression)"))
def compare_command(
    results: ResultsArgument,
    base: Annotated[str, typer.Argument(help="The sweep to compare against.")],
    new: Annotated[str, typer.Argument(help="The sweep to judge.")],
    threshold: Annotated[
        float,
        typer.Option("--threshold", help="Smallest change that counts, in percent.", min=0.0),
    ] = 5.0,
    as_json: JsonOption = False,
) -> int:
    """Compare sweep NEW against BASE per curve; exit 1 if any is significantly worse.

    Also says what changed in the environment between them (revision, versions, kernel, ...).
    --json: {"base", "new", "threshold", "status", "regressed", "improved", "worse", "drift",
    "notes", "page", "curves": [{"curve", "verdict", "single_runs", "summary", "values"}]},
    "worse" and "drift" as in the nightly webhook's summary; a change between single runs (no
    CI, the threshold alone) says "(single runs)" in "worse", "summary" and "values"."""
    check_sweep_id(base, "BASE")
    check_sweep_id(new, "NEW")
    store = open_store(results, readonly=True)
    for name, sweep_id in (("BASE", base), ("NEW", new)):
        if store.sweep(sweep_id) is None:
            raise TestbedError(f"{name}: {sweep_id!r}: no such sweep in {store.path}", EXIT_USAGE)
    comparison = compare_sweeps(store, base, new, threshold / 100)
    drift = environment_drift(store.sweep_details(base), store.sweep_details(new))
    try:
        page: str | None = str(write_comparison(store, comparison))
    except OSError as error:  # a store on a read-only mount: the verdict stands without a page
        warn(f"the comparison page was not written: {error.filename}: {error.strerror}")
        page = None
    if as_json:
        print_json(comparison_document(comparison, drift, page))
    else:
        print_comparison(comparison, console)
        for change in drift:
            console.print(f"environment changed: {change}", markup=False, soft_wrap=True)
        if page is not None:
            console.print(f"comparison: {page}")
    return EXIT_FAILURE if comparison.regressed else 0


def comparison_document(
    comparison: Comparison, drift: list[str], page: str | None
) -> dict[str, Any]:
    """`compare --json`: the comparison as the nightly webhook's summary names its parts."""
    if comparison.regressed:
        status = "regressed"
    else:
        status = "improved" if comparison.improved else "no change"
    return {
        "base": comparison.base,
        "new": comparison.new,
        "threshold": comparison.threshold,
        "status": status,
        "regressed": comparison.regressed,
        "improved": comparison.improved,
        "worse": comparison.worse(),
        "drift": drift,
        "notes": list(comparison.notes),
        "page": page,
        "curves": [
            {
                "curve": row.name,
                "verdict": row.verdict,
                "single_runs": row.single_runs,
                "summary": row.summary(),
                "values": dict(zip(COLUMNS, cells(row), strict=False)),
            }
            for row in comparison.rows
        ],
    }
