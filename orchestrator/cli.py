"""The `orchestrate` command: one small function per subcommand.

    orchestrate lab up lab.yml        build the lab on this machine: namespaces or machines
    orchestrate lab down lab.yml      remove it, leaving nothing behind
    orchestrate preflight lab.yml     check every host; non-zero exit if any fails
    orchestrate provision lab.yml     run the playbooks (a second run changes nothing)
    orchestrate plan lab.yml          the points, what `up` creates, its estimated wall time
    orchestrate up lab.yml            all of the above, then the sweep (resumed if unfinished)
    orchestrate status lab.yml        where the lab's sweeps stand
    orchestrate down lab.yml          stop everything the orchestrator started on the hosts
    orchestrate export results/       one row per point, CSV or JSON
    orchestrate report results/       the paper's figures and Table 1 of a sweep, as HTML
    orchestrate compare results/ A B  sweep B against sweep A; exit 1 if anything got worse
    orchestrate nightly lab.yml       a new sweep compared with the baseline (exit 1: regressed)
    orchestrate schedule add|list|remove  run `nightly` every day (systemd timer or cron)
    orchestrate baseline set|show     the sweep nightly runs compare with
    orchestrate watch lab.yml         the live run in the terminal, from Prometheus
    orchestrate monitoring up|down    start or stop the lab's Prometheus
    orchestrate dashboards publish    the data source and dashboards in Grafana
    orchestrate dashboards export DIR Grafana file-provisioning YAML and the dashboards' JSON
    orchestrate version [--json]      the orchestrator's version and what it runs with

Conventions every subcommand follows: `-h`/`--help`, `-v`/`--verbose` and `-q`/`--quiet`; its
help ends with its exit statuses (EXIT_CODES: 0 done, 1 a failed run or a regression, 2 bad
input, 3 the lab is busy, 130 Ctrl-C); `--json` output is one JSON document on stdout.
`main()` maps expected failures (`TestbedError`) to one line per problem on stderr and that exit
status, never a traceback.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import json
import shlex
import sys
import time
import typing
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer.core import TyperGroup
from typer.exceptions import TyperException

from orchestrator import ui
from orchestrator.config.labfile import load_lab
from orchestrator.config.model import Lab
from orchestrator.config.redact import display_url
from orchestrator.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_USAGE, TestbedError
from orchestrator.lab.builders import lab_builder
from orchestrator.lab.remote import Remote
from orchestrator.monitoring.dashboards import write_provisioning
from orchestrator.monitoring.prometheus import Prometheus
from orchestrator.monitoring.watch import watch
from orchestrator.nightly.nightly import baseline_for, environment_drift, run_nightly
from orchestrator.nightly.schedule import Scheduler, parse_daily
from orchestrator.report.compare import COLUMNS, Comparison, cells, compare_sweeps, print_comparison
from orchestrator.report.write import write_comparison, write_report
from orchestrator.results import export
from orchestrator.results.records import check_sweep_id
from orchestrator.results.schema import STORE_FILE
from orchestrator.results.store import Store
from orchestrator.run.hostproc import HostProcesses
from orchestrator.run.lock import EXIT_LOCKED, LabLock
from orchestrator.run.plansummary import plan_summary
from orchestrator.run.up import lab_up, preflight, provision, publish_dashboards, run_up
from orchestrator.ui import Terminal, console, error_line, hosts_table, warn
from orchestrator.version import local_versions, revision, version

# -- conventions: exit statuses, verbosity, help ---------------------------------------------------

EXIT_CODES = {
    0: "done",
    EXIT_FAILURE: "failed: a run, a host, a playbook (compare, nightly: a regression)",
    EXIT_USAGE: "bad input: arguments, lab file or inventory, a missing results store",
    EXIT_LOCKED: "busy: another run holds the lab's lock",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}
CONTEXT = {"help_option_names": ["-h", "--help"]}


def exit_table(codes: dict[int, str]) -> str:
    """The epilog every subcommand's help ends with: its exit statuses, one per line."""
    lines = [f"  {code:<4} {meaning}" for code, meaning in sorted(codes.items())]
    return "\b\nExit status:\n" + "\n".join(lines)


def _codes(**meanings: str) -> dict[int, str]:
    """0, 2 and 130 (every command) plus this command's own meanings of 1 and 3."""
    codes = {0: EXIT_CODES[0], EXIT_USAGE: EXIT_CODES[EXIT_USAGE], 130: EXIT_CODES[130]}
    if "failed" in meanings:
        codes[EXIT_FAILURE] = meanings["failed"]
    if "busy" in meanings:
        codes[EXIT_LOCKED] = meanings["busy"]
    return codes


VerboseOption = Annotated[
    bool, typer.Option("-v", "--verbose", help="Show debug detail on stderr.")
]
QuietOption = Annotated[
    bool, typer.Option("-q", "--quiet", help="Print nothing but errors, warnings and --json.")
]
F = TypeVar("F", bound=Callable[..., Any])


def command(group: typer.Typer, name: str, codes: dict[int, str]) -> Callable[[F], F]:
    """Register a subcommand with the shared conventions: its exit table as the help's epilog,
    -h, and -v/--verbose and -q/--quiet added to its own options."""

    def register(function: F) -> F:
        @functools.wraps(function)
        def with_verbosity(*args: Any, verbose: bool, quiet: bool, **kwargs: Any) -> Any:
            if verbose or quiet:
                ui.set_verbosity(1 if verbose else -1)
            return function(*args, **kwargs)

        signature = inspect.signature(function, eval_str=True)
        extra = [
            inspect.Parameter(flag, inspect.Parameter.KEYWORD_ONLY, default=False, annotation=kind)
            for flag, kind in (("verbose", VerboseOption), ("quiet", QuietOption))
        ]
        with_verbosity.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*signature.parameters.values(), *extra]
        )
        with_verbosity.__annotations__ = {
            **typing.get_type_hints(function, include_extras=True),
            "verbose": VerboseOption,
            "quiet": QuietOption,
        }
        group.command(name, epilog=exit_table(codes), context_settings=CONTEXT)(with_verbosity)
        return function

    return register


def _group(help_text: str) -> typer.Typer:
    return typer.Typer(no_args_is_help=True, help=help_text, context_settings=CONTEXT)


def _print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False) + "\n")


app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=CONTEXT,
    help="Run server performance experiments on a multi-host lab (testbed).",
    epilog=exit_table(EXIT_CODES),
)


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(f"orchestrate {version()} (revision {revision()})\n")
        raise typer.Exit(0)


@app.callback()
def _main_options(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, callback=_show_version, help="Version and git revision."
        ),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("-v", "--verbose", help="Debug detail on stderr.")
    ] = False,
    quiet: Annotated[bool, typer.Option("-q", "--quiet", help="Only errors and warnings.")] = False,
) -> None:
    """Run server performance experiments on a multi-host lab (testbed)."""
    if verbose or quiet:
        ui.set_verbosity(1 if verbose else -1)


lab_app = _group("Create or remove a lab built on this machine (emulated or machines).")
app.add_typer(lab_app, name="lab")

LabArgument = Annotated[Path, typer.Argument(help="The lab file, e.g. lab.yml.")]
ResultsArgument = Annotated[Path, typer.Argument(help="A results directory or its testbed.sqlite.")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document on stdout.")]


class Format(enum.StrEnum):
    csv = "csv"
    json = "json"


# -- subcommands --------------------------------------------------------------------------------


@command(lab_app, "up", _codes(failed="the lab could not be built"))
def lab_up_command(lab_file: LabArgument) -> None:
    """Create the lab that LAB describes on this machine (only what is missing):
    namespaces (emulate: true) or booted machines (emulate: machines)."""
    lab_up(_emulated(load_lab(lab_file)), Terminal())


@command(lab_app, "down", _codes(failed="something of the lab could not be removed"))
def lab_down_command(lab_file: LabArgument) -> None:
    """Remove the lab built here: machines, layers, mounts, namespaces, bridges, veths,
    processes and files."""
    lab = _emulated(load_lab(lab_file))
    lab_builder(lab, warn=warn).down()
    console.print(f"lab [bold]{lab.name}[/]: down")


@command(app, "preflight", _codes(failed="a host failed a check (each is named)"))
def preflight_command(lab_file: LabArgument) -> None:
    """Check every host at once: SSH, NICs, routes, clocks, limits."""
    preflight(load_lab(lab_file), Terminal())


@command(app, "provision", _codes(failed="a playbook failed on a host"))
def provision_command(lab_file: LabArgument) -> None:
    """Provision and deploy every host with the playbooks (Ansible)."""
    provision(load_lab(lab_file), Terminal())


@command(
    app,
    "up",
    _codes(failed="a point stayed failed, or the run failed", busy=EXIT_CODES[EXIT_LOCKED]),
)
def up_command(
    lab_file: LabArgument,
    new: Annotated[bool, typer.Option("--new", help="Start a fresh sweep, do not resume.")] = False,
) -> int:
    """Run the sweep: create the lab if emulated, preflight, provision, measure every point.

    Resumes the lab's unfinished sweep when its plan is unchanged. Everything printed, with
    debug detail, is also logged to RESULTS/logs/<sweep>.log. On Ctrl-C the point in progress
    is stored as interrupted."""
    ui.capture()
    ui.debug(f"orchestrate {version()} (revision {revision()}): up {shlex.quote(str(lab_file))}")
    return run_up(load_lab(lab_file), Terminal(), new=new).exit_code


@command(app, "plan", _codes())
def plan_command(
    lab_file: LabArgument,
    new: Annotated[bool, typer.Option("--new", help="As for `up --new`: do not resume.")] = False,
) -> None:
    """Show what `up` would do: the points, what it creates, an estimate of the wall time.

    The estimate uses this lab's measured time per point from its results store (a stated
    default when it has none). Nothing is created or run."""
    for line in plan_summary(load_lab(lab_file), new=new).describe():
        console.print(line, highlight=False)


@command(app, "status", _codes())
def status_command(lab_file: LabArgument, as_json: JsonOption = False) -> None:
    """Where the lab's sweeps stand, from the results store ("no sweeps yet" before the first).

    --json: {"lab", "store", "running", "sweeps": [{"sweep", "kind", "status", "done",
    "planned", "ok", "client_limited", "failed", "interrupted", "last"}]}, "last" in ISO 8601."""
    lab = load_lab(lab_file)
    store_path = lab.results_directory / STORE_FILE
    sweeps: list[dict[str, Any]] = []
    if store_path.exists():
        store = Store.open(lab.results_directory, readonly=True)
        try:
            sweeps = [_sweep_status(store, sweep) for sweep in store.sweeps(lab.name)]
        finally:
            store.close()
    running = LabLock.holder(lab.name)
    if as_json:
        document = {"lab": lab.name, "store": str(store_path), "running": running}
        _print_json({**document, "sweeps": sweeps})
        return
    if not sweeps:
        console.print(f"lab {lab.name}: no sweeps yet ({store_path})")
    else:
        columns = ["sweep", "kind", "status", "done", "ok", "client-limited", "failed"]
        columns += ["interrupted", "last"]
        table = hosts_table(f"sweeps of {lab.name} in {store_path}", columns, [])
        # Sweep ids are pasted into compare, baseline set and report --sweep: never cut one.
        table.columns[0].no_wrap = True
        table.columns[0].min_width = max(len(row["sweep"]) for row in sweeps)
        for row in sweeps:
            last = row["last"].replace("T", " ")[:19] if row["last"] else "-"
            done = f"{row['done']}/{row['planned']}"
            counts = [str(row[key]) for key in ("ok", "client_limited", "failed", "interrupted")]
            table.add_row(row["sweep"], row["kind"], row["status"], done, *counts, last)
        console.print(table)
    if running:
        console.print(f"running now: {running}")


def _sweep_status(store: Store, sweep: Any) -> dict[str, Any]:
    points = store.points(sweep.id)
    counts = Counter(point["status"] for point in points)
    last = max((point["ended_at"] for point in points), default=None)
    return {
        "sweep": sweep.id,
        "kind": sweep.kind,
        "status": sweep.status,
        "done": len(store.done_keys(sweep.id)),
        "planned": sweep.points_planned,
        "ok": counts["ok"],
        "client_limited": counts["client-limited"],
        "failed": counts["failed"],
        "interrupted": counts["interrupted"],
        "last": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(last)) if last else None,
    }


@command(app, "down", _codes(failed="a host could not be reached"))
def down_command(lab_file: LabArgument) -> int:
    """Stop everything the orchestrator started on the lab's hosts (servers, agents)."""
    lab = load_lab(lab_file)
    if lab.built_here and not lab_builder(lab).exists():
        console.print(f"lab [bold]{lab.name}[/] is not up: nothing runs on it")
        return 0
    with Remote.for_lab(lab) as remote:
        results = HostProcesses(remote, tag=lab.name).stop_all(lab.hosts)
    for name, result in results.items():
        if not result.ok:
            warn(f"{name}: {result.reason()}")
        elif result.stdout.strip():
            console.print(f"{name}: stopped {', '.join(result.stdout.split())}")
    if not all(result.ok for result in results.values()):
        return EXIT_FAILURE
    console.print(f"lab [bold]{lab.name}[/]: nothing of ours runs on its hosts any more")
    return 0


monitoring_app = _group("The lab's Prometheus.")
app.add_typer(monitoring_app, name="monitoring")


@command(monitoring_app, "up", _codes(failed="Prometheus did not start"))
def monitoring_up_command(lab_file: LabArgument) -> None:
    """Start the lab's Prometheus (or reload its configuration) without running a sweep."""
    url = Prometheus.for_lab(load_lab(lab_file)).ensure_running()
    console.print(f"prometheus: {display_url(url)}")


@command(monitoring_app, "down", _codes(failed="Prometheus could not be stopped"))
def monitoring_down_command(lab_file: LabArgument) -> None:
    """Stop the lab's Prometheus (its data stays under the results directory)."""
    prometheus = Prometheus.for_lab(load_lab(lab_file))
    if prometheus.directory is None:
        console.print(f"prometheus at {display_url(prometheus.url)} is external: not ours to stop")
    elif prometheus.stop():
        console.print(f"prometheus: stopped (data kept in {prometheus.directory})")
    else:
        console.print("prometheus: not running")


@command(app, "watch", _codes(failed="Prometheus could not be queried"))
def watch_command(
    lab_file: LabArgument,
    count: Annotated[
        int | None, typer.Option("--count", help="Stop after this many refreshes.")
    ] = None,
) -> None:
    """A live view of the run from Prometheus, refreshed every second (Ctrl-C to leave)."""
    with contextlib.suppress(KeyboardInterrupt):
        watch(load_lab(lab_file), console, count=count)


dashboards_app = _group("The Grafana dashboards.")
app.add_typer(dashboards_app, name="dashboards")


@command(dashboards_app, "publish", _codes(failed="Grafana refused or could not be reached"))
def dashboards_publish_command(lab_file: LabArgument) -> None:
    """Create or update the data source and dashboards in the Grafana that LAB names."""
    lab = load_lab(lab_file)
    if not lab.monitoring.grafana.url:
        raise TestbedError(f"{lab.path}: monitoring.grafana.url is not set", EXIT_USAGE)
    console.print(publish_dashboards(lab, Prometheus.for_lab(lab).url))


@command(dashboards_app, "export", _codes(failed="a file could not be written"))
def dashboards_export_command(
    directory: Annotated[Path, typer.Argument(help="Where to write the provisioning files.")],
    prometheus_url: Annotated[
        str, typer.Option("--prometheus-url", help="Prometheus as Grafana reaches it.")
    ] = "http://127.0.0.1:9090",
    folder: Annotated[str, typer.Option("--folder", help="Grafana folder title.")] = "testbed",
    lab_name: Annotated[
        str,
        typer.Option("--lab", help="The lab's name: its data source's and folder's uids carry it."),
    ] = "testbed",
    dashboards_path: Annotated[
        str | None,
        typer.Option(
            "--dashboards-path",
            help="Where DIR/dashboards will be on the Grafana host (default: DIR's own path).",
        ),
    ] = None,
) -> None:
    """Write Grafana file provisioning (data source, dashboard provider) and the JSON."""
    for path in write_provisioning(
        directory, prometheus_url, folder, lab=lab_name, dashboards_path=dashboards_path
    ):
        console.print(f"wrote {path}")


baseline_app = _group("The sweep nightly runs compare with.")
app.add_typer(baseline_app, name="baseline")


@command(baseline_app, "set", _codes())
def baseline_set_command(results: ResultsArgument, sweep: str) -> None:
    """Pin SWEEP as the baseline of its lab's nightly runs."""
    check_sweep_id(sweep, "SWEEP")
    store = _open_store(results)
    found = store.sweep(sweep)
    if found is None:
        raise TestbedError(f"{store.path}: no sweep {sweep!r}", EXIT_USAGE)
    store.set_baseline(found.lab, found.id)
    console.print(f"baseline of lab {found.lab}: {found.id} (pinned)")


@command(baseline_app, "show", _codes())
def baseline_show_command(results: ResultsArgument, as_json: JsonOption = False) -> None:
    """The baseline of every lab in the store: pinned, or the last good nightly sweep.

    --json: {"store", "baselines": [{"lab", "baseline", "how"}]}; "baseline" and "how"
    ("pinned" or "last good nightly") are null for a lab with none yet."""
    store = _open_store(results, readonly=True)
    rows = []
    for lab in sorted({sweep.lab for sweep in store.sweeps()}):
        pinned = store.baseline(lab)
        chosen = baseline_for(store, lab)
        how = "pinned" if chosen is not None and chosen.id == pinned else "last good nightly"
        rows.append({"lab": lab, "baseline": chosen.id if chosen else None,
                     "how": how if chosen else None})  # fmt: skip
    if as_json:
        _print_json({"store": str(store.path), "baselines": rows})
        return
    if not rows:
        console.print(f"{store.path}: no sweeps yet")
    for row in rows:
        shown = f"{row['baseline']} ({row['how']})" if row["baseline"] else "none yet"
        console.print(f"{row['lab']}: {shown}")


def _nightly_codes() -> dict[int, str]:
    """A night's 2 also covers a run that failed: a cron job alerts on 1 (worse) and 2 (no
    result) differently, and bad input gives no result either."""
    codes = _codes(failed="a curve regressed", busy=EXIT_CODES[EXIT_LOCKED])
    codes[EXIT_USAGE] = "no result: bad input, or the run failed (alerted)"
    return dict(sorted(codes.items()))


@command(app, "nightly", _nightly_codes())
def nightly_command(lab_file: LabArgument) -> int:
    """One unattended run: a new sweep, its report, and a comparison with the baseline.

    Writes the night's log under RESULTS/nightly/, alerts the lab's webhook and command on a
    regression or failure, and keeps the last `nightly.keep` nights."""
    ui.capture()  # the sweep's log beside its store, as for `up`
    return run_nightly(load_lab(lab_file), Terminal()).exit_code


class _ScheduleGroup(TyperGroup):
    """`schedule add|list|remove`, and the older `schedule LAB --daily HH:MM | --list |
    --remove`, read as the subcommand it means (scripts and crontabs written for it still work).
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            lab, rest = args[0], args[1:]
            if rest[:1] == ["--list"]:
                args = ["list", *rest[1:]]
            elif rest[:1] == ["--remove"]:
                args = ["remove", lab, *rest[1:]]
            else:
                args = ["add", lab, *rest]
        return super().parse_args(ctx, args)


schedule_app = typer.Typer(
    cls=_ScheduleGroup,
    no_args_is_help=True,
    help="Run `orchestrate nightly LAB` every day (systemd timer, else cron).",
    context_settings=CONTEXT,
)
app.add_typer(schedule_app, name="schedule")


@command(schedule_app, "add", _codes(failed="the timer or cron entry could not be installed"))
def schedule_add_command(
    lab_file: LabArgument,
    daily: Annotated[str, typer.Option("--daily", help="Run every day at HH:MM.")],
) -> None:
    """Run `orchestrate nightly LAB` every day at --daily HH:MM (replaces LAB's schedule)."""
    at = parse_daily(daily)
    _print_lines(Scheduler().install(load_lab(lab_file), at))


@command(schedule_app, "list", _codes())
def schedule_list_command() -> None:
    """Every lab's nightly schedule on this machine."""
    _print_lines(Scheduler().entries() or ["no nightly runs are scheduled"])


@command(schedule_app, "remove", _codes(failed="the timer or cron entry could not be removed"))
def schedule_remove_command(lab_file: LabArgument) -> None:
    """Remove LAB's nightly schedule."""
    _print_lines(Scheduler().remove(load_lab(lab_file)))


def _print_lines(lines: list[str]) -> None:
    for line in lines:
        console.print(line, soft_wrap=True)


@command(app, "export", _codes())
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
    store = _open_store(results, readonly=True)
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


@command(app, "report", _codes(failed="the report could not be written"))
def report_command(
    results: ResultsArgument,
    sweep: Annotated[
        str | None, typer.Option("--sweep", help="The sweep to report (default: the latest).")
    ] = None,
    profile_rate: Annotated[
        float | None,
        typer.Option(
            "--profile-rate",
            help="Table 1's request rate (default: the highest at which every mechanism was ok).",
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
    store = _open_store(results, readonly=True)
    sweep_id = sweep if sweep is not None else _latest_sweep(store)
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
        console.print(f"{finding.verdict:>14}: {finding.claim}")
    console.print(f"report of sweep [bold]{sweep_id}[/]: {written.index}")


@command(app, "compare", _codes(failed="a curve is significantly worse (a regression)"))
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
    "notes", "page", "curves": [{"curve", "verdict", "summary", "values"}]}, "worse" and
    "drift" as in the nightly webhook's summary."""
    check_sweep_id(base, "BASE")
    check_sweep_id(new, "NEW")
    store = _open_store(results, readonly=True)
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
        _print_json(comparison_document(comparison, drift, page))
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
                "summary": row.summary(),
                "values": dict(zip(COLUMNS, cells(row), strict=False)),
            }
            for row in comparison.rows
        ],
    }


@command(app, "version", _codes())
def version_command(as_json: JsonOption = False) -> None:
    """The orchestrator's version, git revision, Python and Python dependencies' versions.

    --json: {"orchestrator", "revision", "python", "dependencies": {name: version}}, what every
    sweep records in its settings["versions"] (with each host's httperf, kernel, compiler)."""
    versions = local_versions()
    if as_json:
        _print_json(versions)
        return
    console.print(f"orchestrate {versions['orchestrator']} (revision {versions['revision']})")
    console.print(f"python {versions['python']}")
    for name, installed in versions["dependencies"].items():
        console.print(f"{name} {installed}")


def _open_store(results: Path, *, readonly: bool = False) -> Store:
    """The store RESULTS names; a missing one is bad input (exit 2), never created here."""
    path = results if results.suffix == ".sqlite" else results / STORE_FILE
    if not path.is_file():
        raise TestbedError(f"{results}: no results store here ({STORE_FILE} not found)", EXIT_USAGE)
    return Store.open(results, readonly=True) if readonly else Store.open(results, create=False)


def _latest_sweep(store: Store) -> str:
    sweeps = store.sweeps()
    if not sweeps:
        raise TestbedError(f"{store.path}: no sweep stored yet", EXIT_USAGE)
    return sweeps[-1].id


def _emulated(lab: Lab) -> Lab:
    if not lab.built_here:
        raise TestbedError(
            f"{lab.path}: emulate is false: there is no lab to build here", exit_code=EXIT_USAGE
        )
    return lab


# -- entry point ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit status (see the module docstring)."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="orchestrate")
    except TestbedError as failure:
        for line in failure.message.splitlines():
            error_line(line)
        return failure.exit_code
    except typer.Exit as done:
        return int(done.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        error_line("interrupted")
        return EXIT_INTERRUPTED
    except TyperException as usage:  # typer's own click: bad options, unknown commands
        usage.show()  # type: ignore[attr-defined]
        return int(getattr(usage, "exit_code", EXIT_USAGE))
    code = result if isinstance(result, int) else 0
    if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into a quiet exit status 130
        error_line("interrupted")
    return code


if __name__ == "__main__":
    sys.exit(main())
