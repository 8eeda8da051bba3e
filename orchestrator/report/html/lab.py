"""The report page's reference sections: the lab as recorded, and every point (sortable and
filterable in the page, by plain JavaScript with no network).

    html = lab_section(report.data.details) + points_section(report)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.config.redact import redact_yaml
from orchestrator.report.build import Report
from orchestrator.report.htmlkit import esc, maybe, table
from orchestrator.report.pointmetrics import CPU_PER_REPLY, point_metrics
from orchestrator.results.records import ServerCpu


def lab_section(details: Mapping[str, Any]) -> str:
    hosts = details.get("hosts") or {}
    rows = []
    for name, facts in sorted(hosts.items(), key=_server_first):
        nics = facts.get("nics") or {}
        rows.append(
            [
                name,
                facts.get("role", ""),
                facts.get("error") or facts.get("kernel", ""),
                facts.get("os", ""),
                facts.get("cpu_model", ""),
                f"{facts.get('cpus_allowed', '?')} of {facts.get('cpus_online', '?')}",
                _memory(facts.get("memory_kib")),
                "; ".join(f"{nic} {' '.join(addresses)}" for nic, addresses in nics.items()),
                facts.get("httperf", ""),
            ]
        )
    headers = ["host", "role", "kernel", "OS", "CPU", "CPUs", "memory", "NICs", "httperf"]
    settings = details.get("settings") or {}
    sysctls = {name: facts.get("sysctls") or {} for name, facts in hosts.items()}
    distinct = {json.dumps(s, sort_keys=True) for s in sysctls.values()}
    sysctl_text = (
        json.dumps(next(iter(sysctls.values())), indent=2, sort_keys=True)
        if len(distinct) == 1
        else json.dumps(sysctls, indent=2, sort_keys=True)
    )
    return (
        '<h2 id="lab">The lab</h2>\n'
        + idle_counts_note(settings)
        + table(headers, rows)
        + "<h3>The sweep's settings</h3>"
        + f"<pre>{esc(json.dumps(settings, indent=2, sort_keys=True))}</pre>"
        + "<h3>Sysctls"
        + (" (the same on every host)" if len(distinct) == 1 else " per host")
        + f"</h3><pre>{esc(sysctl_text)}</pre>"
        + "<h3>Workloads</h3>"
        + f"<pre>{esc(json.dumps(_brief_workloads(details.get('workloads')), indent=2))}</pre>"
        + "<details><summary>The lab file as run (secrets removed)</summary>"
        + f"<pre>{esc(redact_yaml(details.get('lab_file') or ''))}"
        + "</pre></details>"
        + "<details><summary>The inventory (secrets removed)</summary>"
        + f"<pre>{esc(redact_yaml(details.get('inventory') or ''))}"
        + "</pre></details>"
    )


def points_section(report: Report, store_link: str | None = None) -> str:
    """Every point in run order, with the CPU per reply; sortable and filterable."""
    rows, classes = [], []
    for point, metrics in zip(report.data.points, _metrics(report), strict=True):
        rows.append(
            [
                point["seq"],
                point["key"],
                point["mechanism"],
                point["idle_connections"],
                maybe(point.get("target_rate"), ",.0f"),
                point["status"],
                maybe(point.get("request_rate"), ",.1f"),
                maybe(point.get("reply_rate"), ",.1f"),
                point.get("errors_total") if point.get("errors_total") is not None else "-",
                maybe((point.get("server") or {}).get("cpu_seconds"), ".2f"),
                _busy(point),
                maybe(metrics.get(CPU_PER_REPLY), ".1f"),
                point.get("attempts"),
                point.get("reason") or "",
            ]
        )
        classes.append(point["status"])
    headers = [
        "#",
        "point",
        "mechanism",
        "idle",
        "offered/s",
        "status",
        "requests/s",
        "replies/s",
        "errors",
        "server CPU s",
        "server busy %",
        "CPU µs/reply",
        "attempts",
        "reason",
    ]
    store = f', the store: <a href="{esc(store_link)}">{esc(store_link)}</a>' if store_link else ""
    return (
        '<h2 id="points">Every point</h2><p class="note">In run order; click a column\'s '
        "header to sort by it (again to reverse), type to keep the rows that contain the text. "
        f'Data: <a href="points.csv">points.csv</a>{store}.</p>'
        '<p><label>Filter: <input id="point-filter" type="search" size="30"></label> '
        '<span id="point-count" class="note"></span></p>'
        '<div id="every-point">'
        + table(headers, rows, numeric=(0, 3, 4, 6, 7, 8, 9, 10, 11, 12), row_classes=classes)
        + f"</div><script>{SORT_AND_FILTER}</script>"
    )


def _busy(point: Mapping[str, Any]) -> str:
    """The server's CPU over the load, in % of the cores it could use (`ServerCpu.busy`)."""
    cpu = ServerCpu.from_server(point.get("server"))
    return f"{100 * cpu.busy:.0f}" if cpu is not None else "-"


def _metrics(report: Report) -> list[dict[str, float | None]]:
    return [point_metrics(point) for point in report.data.points]


# Plain JavaScript, no library and no network: sort by a column (numbers as numbers, "-" and
# blanks last), filter rows by their text.
SORT_AND_FILTER = """
(function () {
  var box = document.getElementById("every-point");
  var table = box && box.querySelector("table");
  if (!table) { return; }
  var body = table.tBodies[0];
  var input = document.getElementById("point-filter");
  var count = document.getElementById("point-count");
  function key(cell) {
    var text = cell.textContent.trim();
    var number = parseFloat(text.replace(/,/g, ""));
    if (text === "" || text === "-") { return [2, 0]; }
    if (/^-?[0-9][0-9,]*(\\.[0-9]+)?$/.test(text) && !isNaN(number)) { return [0, number]; }
    return [1, text.toLowerCase()];
  }
  function compare(a, b) {
    if (a[0] !== b[0]) { return a[0] - b[0]; }
    return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
  }
  function shown() {
    var n = 0;
    Array.prototype.forEach.call(body.rows, function (row) {
      if (row.style.display !== "none") { n++; }
    });
    count.textContent = n + " of " + body.rows.length + " points";
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, column) {
    th.style.cursor = "pointer";
    th.title = "sort by this column";
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
        other.removeAttribute("aria-sort");
      });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var order = compare(key(a.cells[column]), key(b.cells[column]));
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  input.addEventListener("input", function () {
    var text = input.value.toLowerCase();
    Array.prototype.forEach.call(body.rows, function (row) {
      row.style.display = row.textContent.toLowerCase().indexOf(text) < 0 ? "none" : "";
    });
    shown();
  });
  shown();
})();
"""


def idle_counts_note(settings: Mapping[str, Any]) -> str:
    """Why the sweep ran the idle counts it did, when one was `max` (the most the hosts' open-file
    limits allow, found by preflight): the paper's 10,000 may not bring select's and poll's
    knee within the clients' reach on a small lab, and the report says what was used instead."""
    experiment = settings.get("experiment") or {}
    value = experiment.get("idle_max_value")
    if not experiment.get("idle_max") or not isinstance(value, int):
        return ""
    counts = sorted({*(experiment.get("idle_connections") or []), value})
    listed = ", ".join(f"{count:,}" for count in counts)
    return (
        f"<p>Idle connections: {esc(listed)}. {value:,} is <code>max</code>, the most this"
        f" lab's hosts could hold: {esc(experiment.get('idle_max_why') or '')}. With the"
        " most, select's and poll's knee comes within the clients' reach, so the"
        " idle-connection finding can be judged by throughput.</p>\n"
    )


def _server_first(item: tuple[str, Any]) -> tuple[bool, str]:
    name, facts = item
    return (facts.get("role") != "server", name)


def _memory(kib: Any) -> str:
    try:
        return f"{int(kib) / 1024 / 1024:.1f} GiB"
    except (TypeError, ValueError):
        return ""


def _brief_workloads(workloads: Any) -> Any:
    """The workloads' seeds and file-set statistics, without per-file lists."""
    if not isinstance(workloads, dict):
        return workloads
    brief = dict(workloads)
    sessions = brief.get("sessions")
    if isinstance(sessions, dict) and sessions:
        brief["sessions"] = f"{len(sessions)} clients' traces (see the store)"
    return brief
