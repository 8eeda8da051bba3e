"""`watch`, the terminal's live view."""

from __future__ import annotations

from rich.console import Console

from orchestrator.monitoring.watch import render
from tests.support.labfiles import default_lab

LAB = default_lab(routes=list)


def test_watch_renders_a_point_in_progress() -> None:
    def result(labels: dict[str, str], value: float) -> dict[str, object]:
        return {"metric": labels, "value": [0, str(value)]}

    snapshot = {
        "phase": [
            result(
                {
                    "sweep": "s1",
                    "mechanism": "poll",
                    "workload": "one-byte",
                    "idle_connections": "0",
                    "accept_limit": "inf",
                    "rate": "2000",
                    "repetition": "1",
                    "phase": "measure",
                },
                1,
            )
        ],
        "points": [result({"state": "done"}, 3), result({"state": "planned"}, 28)],
        "replies": [result({}, 1987.4)],
        "time_wait": [result({"host": "client1"}, 412)],
        "cpu": [result({"host": "server"}, 0.93)],
        "up": [result({"host": "server"}, 1), result({"host": "client1"}, 0)],
    }
    console = Console(width=160, record=True)
    console.print(render(snapshot, "emulated", 0.0))
    text = console.export_text()
    assert "one-byte/idle=0/accept=inf/poll/rate=2000/rep=1" in text
    assert "phase measure" in text and "done 3" in text and "planned 28" in text
    assert "1,987" in text and "412" in text and "93%" in text
