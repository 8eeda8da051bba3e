"""The ids a service's runs and holds go by (``POST /run``'s ``id``), checked alike by the load
and the idle services. Pure: the orchestrator builds its run ids to this rule."""

from __future__ import annotations

import re

__all__ = ["CONTROL_ID", "CONTROL_ID_RULE"]

CONTROL_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")  # a service's run or hold id
CONTROL_ID_RULE = "expected 1-64 letters, digits, '.', '_' or '-'"
