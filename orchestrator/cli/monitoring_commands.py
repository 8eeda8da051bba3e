"""Subcommands for watching a run: monitoring up/down, watch, dashboards publish/export."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.app import app
from orchestrator.cli.conventions import (
    LabArgument,
    codes,
    command,
    group,
)
from orchestrator.config.labfile import load_lab
from orchestrator.config.redact import display_url
from orchestrator.errors import EXIT_USAGE, TestbedError
from orchestrator.monitoring.dashboards import write_provisioning
from orchestrator.monitoring.prometheus import Prometheus, stop_lab_prometheus
from orchestrator.monitoring.watch import watch
from orchestrator.run.up import publish_dashboards
from orchestrator.ui import console

monitoring_app = group("The lab's Prometheus.")
app.add_typer(monitoring_app, name="monitoring")


@command(monitoring_app, "up", codes(failed="Prometheus did not start"))
def monitoring_up_command(lab_file: LabArgument) -> None:
    """Start the lab's Prometheus (or reload its configuration) without running a sweep."""
    url = Prometheus.for_lab(load_lab(lab_file)).ensure_running()
    console.print(f"prometheus: {display_url(url)}")


@command(monitoring_app, "down", codes(failed="Prometheus could not be stopped"))
def monitoring_down_command(lab_file: LabArgument) -> None:
    """Stop the lab's Prometheus (its data stays under the results directory)."""
    console.print(stop_lab_prometheus(load_lab(lab_file)))


@command(app, "watch", codes(failed="Prometheus could not be queried"))
def watch_command(
    lab_file: LabArgument,
    count: Annotated[
        int | None, typer.Option("--count", help="Stop after this many refreshes.")
    ] = None,
) -> None:
    """A live view of the run from Prometheus, refreshed every second (Ctrl-C to leave)."""
    with contextlib.suppress(KeyboardInterrupt):
        watch(load_lab(lab_file), console, count=count)


dashboards_app = group("The Grafana dashboards.")
app.add_typer(dashboards_app, name="dashboards")


@command(dashboards_app, "publish", codes(failed="Grafana refused or could not be reached"))
def dashboards_publish_command(lab_file: LabArgument) -> None:
    """Create or update the data source and dashboards in the Grafana that LAB names."""
    lab = load_lab(lab_file)
    if not lab.monitoring.grafana.url:
        raise TestbedError(f"{lab.path}: monitoring.grafana.url is not set", EXIT_USAGE)
    console.print(publish_dashboards(lab, Prometheus.for_lab(lab).url))


@command(dashboards_app, "export", codes(failed="a file could not be written"))
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
