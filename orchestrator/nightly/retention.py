"""A night's clean-up: old nights go with their reports, comparison pages and logs.

    retain(lab, current_log, line=view.line, warn=view.warn)

The last `nightly.keep` nightly sweeps stay, and the baseline always; Prometheus keeps a day
more (`monitoring.prometheus`). Only what a night can prove it made is removed.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

from orchestrator.config.model import Lab
from orchestrator.nightly.baseline import baseline_for
from orchestrator.report.write import reports_directory
from orchestrator.results.records import is_sweep_id
from orchestrator.results.store import Store

Say = Callable[[str], None]


def retain(lab: Lab, current_log: Path, line: Say, warn: Say) -> None:
    """Keep the last `nightly.keep` nightly sweeps (and the baseline); remove the rest with their
    reports, comparison pages and logs. Prometheus keeps a day more (monitoring.prometheus).

    Only what the night can prove it made goes: a sweep id that is a name, its report directory
    (a real directory holding index.html, not a link), comparison pages named exactly after it,
    and logs named exactly as `run_nightly` names them."""
    store = Store.open(lab.results_directory)
    try:
        nightly = [sweep for sweep in store.sweeps(lab.name) if sweep.kind == "nightly"]
        keep = {sweep.id for sweep in nightly[-lab.nightly.keep :]}
        pinned = baseline_for(store, lab.name)
        if pinned is not None:
            keep.add(pinned.id)
        reports = reports_directory(store)
        for sweep in nightly:
            if sweep.id in keep:
                continue
            if not is_sweep_id(sweep.id):
                warn(f"retention: sweep {sweep.id[:60]!r} is not named as ours: left alone")
                continue
            store.delete_sweep(sweep.id)
            _remove_report(reports / sweep.id, warn)
            for page in _comparison_pages(reports, sweep.id):
                page.unlink()
            (store.path.parent / "logs" / f"{sweep.id}.log").unlink(missing_ok=True)  # up's log
            line(f"retention: removed night {sweep.id}")
    finally:
        store.close()
    pattern = re.compile(rf"\d{{8}}-\d{{6}}-{re.escape(lab.name)}\.log")
    logs = sorted(
        path
        for path in (lab.results_directory / "nightly").glob(f"*-{lab.name}.log")
        if pattern.fullmatch(path.name) and path.is_file() and not path.is_symlink()
    )
    for old in logs[: -lab.nightly.keep]:
        if old != current_log:
            old.unlink(missing_ok=True)


def _remove_report(directory: Path, warn: Say) -> None:
    """Remove a sweep's report directory if it is one (a directory of ours with index.html)."""
    if directory.is_symlink() or not directory.is_dir():
        return
    if not (directory / "index.html").is_file():
        warn(f"retention: {directory} holds no report: left alone")
        return
    shutil.rmtree(directory)


def _comparison_pages(reports: Path, sweep_id: str) -> list[Path]:
    """Comparison pages with `sweep_id` as one side: compare-<id>--<other>.html or the reverse,
    the other side a sweep id too."""
    pages = []
    for page in reports.glob("compare-*.html") if reports.is_dir() else []:
        middle = page.name[len("compare-") : -len(".html")]
        sides = [middle[len(sweep_id) + 2 :], middle[: -len(sweep_id) - 2]]
        mine = [
            middle.startswith(f"{sweep_id}--") and is_sweep_id(sides[0]),
            middle.endswith(f"--{sweep_id}") and is_sweep_id(sides[1]),
        ]
        if any(mine) and page.is_file() and not page.is_symlink():
            pages.append(page)
    return pages
