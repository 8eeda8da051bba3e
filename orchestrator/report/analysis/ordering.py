"""The order the report draws and lists things in: the paper's mechanisms first, workloads as the
paper has them, accept-limits by size with inf last, and which accept-limit Figures 1-6 use."""

from __future__ import annotations

import math
from collections.abc import Iterable

from orchestrator.config.model import MECHANISMS, WORKLOADS


def main_accept_limit(limits: Iterable[str]) -> str:
    """The accept-limit of Figures 1-6: inf (the paper's default) when measured, else the
    largest one."""
    present = set(limits)
    if "inf" in present or not present:
        return "inf"
    return max(present, key=accept_order)


def accept_order(limit: str) -> float:
    return math.inf if limit == "inf" else float(limit)


def mechanism_order(mechanism: str) -> int:
    return MECHANISMS.index(mechanism) if mechanism in MECHANISMS else len(MECHANISMS)


def group_order(group: tuple[str, int]) -> tuple[int, int]:
    workload, idle = group
    return (WORKLOADS.index(workload) if workload in WORKLOADS else len(WORKLOADS), idle)
