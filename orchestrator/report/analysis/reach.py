"""How far a sweep's curves reached, as recorded with the sweep (`run.knee` writes it): where the
knee search ended each curve, why and on what evidence, and how fast the clients could offer load.

    ClientCapacity.from_recorded(settings["client_capacity"])  # typed; .describe(): a sentence
    ending_rows(settings)                            # one row per curve, a column per repetition
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ClientCapacity:
    """How fast the clients offered load, by the points' verdicts over the sweep (`run.limits`).

    `kept_up`: the highest rate at which every agent kept its schedule (at `kept_up_at`);
    `fell_behind`: the lowest at which the clients were the limit, the server having headroom
    (client-limited, at `fell_behind_at`); `issued`: the most the clients issued at such a point
    (their measured capacity). The capacity lies in [kept_up, fell_behind). A saturated point
    (the server's backlog holding the clients back) counts as neither; `evidence` names the
    points."""

    kept_up: float | None
    fell_behind: float | None
    issued: float | None
    kept_up_at: str | None = None
    fell_behind_at: str | None = None
    evidence: str = ""

    def as_dict(self) -> dict[str, float | str | None]:
        return {
            "kept_up": self.kept_up,
            "fell_behind": self.fell_behind,
            "issued": self.issued,
            "kept_up_at": self.kept_up_at,
            "fell_behind_at": self.fell_behind_at,
            "evidence": self.evidence,
        }

    @classmethod
    def from_recorded(cls, recorded: Mapping[str, Any] | None) -> ClientCapacity:
        """The capacity as a sweep's settings record it (older sweeps: the three rates only)."""
        recorded = recorded if isinstance(recorded, Mapping) else {}

        def rate(name: str) -> float | None:
            value = recorded.get(name)
            return float(value) if isinstance(value, int | float) else None

        def text(name: str) -> str | None:
            value = recorded.get(name)
            return value if isinstance(value, str) else None

        return cls(
            rate("kept_up"),
            rate("fell_behind"),
            rate("issued"),
            text("kept_up_at"),
            text("fell_behind_at"),
            text("evidence") or "",
        )

    @property
    def ceiling(self) -> tuple[float, float | None] | None:
        """Where the clients' ceiling lies, [low, high): from the highest rate they kept up with
        (or the most they issued, when lower) to the lowest they fell behind at; (kept_up, None)
        when they never fell behind; None when nothing says."""
        if self.fell_behind is None:
            return (self.kept_up, None) if self.kept_up is not None else None
        lows = [v for v in (self.kept_up, self.issued) if v is not None and v < self.fell_behind]
        return (max(lows) if lows else self.fell_behind, self.fell_behind)

    def describe(self) -> str:
        return describe_capacity(self.as_dict())


def describe_capacity(recorded: Mapping[str, Any] | None) -> str:
    """The clients' capacity as recorded in a sweep's settings, as one sentence."""
    capacity = ClientCapacity.from_recorded(recorded)
    kept, behind, issued = capacity.kept_up, capacity.fell_behind, capacity.issued
    if behind is None:
        if kept is None:
            return "not measured (no point was measured)"
        text = (
            f"not reached: the clients fell behind at no rate run with the server below its"
            f" limit (they kept up with up to {kept:,.0f} requests/s)"
        )
        return text + (f" (evidence: {capacity.evidence})" if capacity.evidence else "")
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
    return text + (f" (evidence: {capacity.evidence})" if capacity.evidence else "")


def ending_rows(settings: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """(repetitions, rows): per curve (workload, idle, accept-limit, mechanism), what ended it
    in each repetition and on what evidence, from `curve_endings` ('<curve>/rep=N': {ended_by,
    rate, evidence}; sweeps from before the evidence have none)."""
    by_curve: dict[tuple[str, ...], dict[str, str]] = {}
    for label, ending in (settings.get("curve_endings") or {}).items():
        *curve, repetition = str(label).split("/")
        if not isinstance(ending, Mapping) or len(curve) != 4:
            continue
        rate = ending.get("rate")
        at = f" at {rate:,.0f}" if isinstance(rate, int | float) else ""
        evidence = ending.get("evidence")
        why = f": {evidence}" if isinstance(evidence, str) and evidence else ""
        by_curve.setdefault(tuple(curve), {})[repetition] = f"{ending.get('ended_by')}{at}{why}"
    repetitions = sorted({r for ends in by_curve.values() for r in ends}, key=_rep_number)
    rows = [
        [*(part.split("=")[-1] for part in curve), *(ends.get(r, "") for r in repetitions)]
        for curve, ends in sorted(by_curve.items())
    ]
    return repetitions, rows


def _rep_number(label: str) -> int:
    digits = label.split("=")[-1]
    return int(digits) if digits.isdigit() else 0
