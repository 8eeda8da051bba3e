"""How far a sweep's curves reached, as recorded with the sweep (`run.knee` writes it): where the
knee search ended each curve and why, and how fast the clients could offer load.

    describe_capacity(settings["client_capacity"])   # one sentence
    ending_rows(settings)                            # one row per curve, a column per repetition
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orchestrator.report.htmlkit import esc, table


def describe_capacity(recorded: Mapping[str, Any] | None) -> str:
    """The clients' capacity as recorded in a sweep's settings, as one sentence."""
    recorded = recorded or {}
    kept, behind, issued = (recorded.get(k) for k in ("kept_up", "fell_behind", "issued"))
    if behind is None:
        if kept is None:
            return "not measured (no point was measured)"
        return f"not reached: the clients kept up at every rate run (up to {kept:,.0f} requests/s)"
    if kept is not None and kept >= behind:  # runs at one rate on both sides: the limit
        text = (
            f"the clients fell behind at {behind:,.0f} requests/s in some runs and kept up in"
            f" others (up to {kept:,.0f}): their limit"
        )
    else:
        text = f"the clients fell behind at {behind:,.0f} requests/s"
        if kept is not None:
            text += f" and kept up at up to {kept:,.0f}"
    if issued is not None:
        text += f"; the most they issued while behind: {issued:,.0f}/s"
    return text


def ending_rows(settings: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(repetitions, rows): per curve (workload, idle, accept-limit, mechanism), what ended it
    in each repetition, from `curve_endings` ('<curve>/rep=N': {ended_by, rate})."""
    by_curve: dict[tuple[str, ...], dict[str, str]] = {}
    for label, ending in (settings.get("curve_endings") or {}).items():
        *curve, repetition = str(label).split("/")
        if not isinstance(ending, Mapping) or len(curve) != 4:
            continue
        rate = ending.get("rate")
        at = f" at {rate:,.0f}" if isinstance(rate, int | float) else ""
        by_curve.setdefault(tuple(curve), {})[repetition] = f"{ending.get('ended_by')}{at}"
    repetitions = sorted({r for ends in by_curve.values() for r in ends}, key=_rep_number)
    rows = [
        [*(part.split("=")[-1] for part in curve), *(ends.get(r, "") for r in repetitions)]
        for curve, ends in sorted(by_curve.items())
    ]
    return repetitions, rows


def reach_section(settings: Mapping[str, Any], knee: bool) -> str:
    """The report's section: the clients' capacity, and each curve's ending (knee search)."""
    text = (
        "<p><b>Client capacity</b>, by the load agents' own verdicts over the sweep (a point "
        "is client-limited when an agent fell behind its schedule or ran out of descriptors or "
        f"ports): {esc(describe_capacity(settings.get('client_capacity')))}.</p>"
    )
    if not knee:
        return f'<h2 id="reach">How far the curves reached</h2>\n{text}'
    repetitions, rows = ending_rows(settings)
    explained = (
        '<p class="note">Knee search (<code>rates: {to: auto}</code>): each curve climbed its '
        "rates until it <i>saturated</i> (two points in a row served less than 95 % of the "
        "offered rate), its <i>clients</i> became the limit (a client-limited point), or it "
        "reached the <i>upper bound</i> of the rates; with <code>repeat_top</code>, a later "
        "repetition measured the first one's top rates again (<i>top repeated</i>). Rates in "
        "requests/s. A curve missing here was not ended (the sweep stopped first).</p>"
    )
    headers = ["workload", "idle", "accept-limit", "mechanism", *repetitions]
    return f'<h2 id="reach">How far the curves reached</h2>\n{text}{explained}' + table(
        headers, rows
    )


def _rep_number(label: str) -> int:
    digits = label.split("=")[-1]
    return int(digits) if digits.isdigit() else 0
