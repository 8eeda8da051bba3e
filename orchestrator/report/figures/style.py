"""The figures' shared look: one colour and marker per mechanism, line styles per accept-limit,
how a saturated point, a curve's measured knee and the clients' ceiling are marked, the size of
a figure."""

from __future__ import annotations

from typing import Final

COLOURS = {
    "select": "#1f77b4",
    "poll": "#17becf",
    "epoll-lt": "#d62728",
    "epoll-et": "#2ca02c",
    "epoll2": "#ff7f0e",
    "epoll-ctlv": "#9467bd",
    "io_uring": "#8c564b",
}
MARKERS = {
    "select": "o",
    "poll": "s",
    "epoll-lt": "^",
    "epoll-et": "v",
    "epoll2": "D",
    "epoll-ctlv": "P",
    "io_uring": "*",
}
ACCEPT_STYLES = ("-", "--", ":", "-.")
SATURATED_EDGE = "black"  # a saturated point's marker: filled, on the line, with this edge
KNEE_STYLE: Final = "--"  # a curve's measured knee: a vertical line of this style, its colour
CEILING_COLOUR, CEILING_ALPHA = "#bbbbbb", 0.35  # the clients' ceiling: a band over the rates
SIZE = (8.0, 5.0)  # inches, at 100 dpi: 800 × 500 pixels
DPI = 100


def colour(mechanism: str) -> str:
    return COLOURS.get(mechanism, "#333333")


def marker(mechanism: str) -> str:
    return MARKERS.get(mechanism, "o")
