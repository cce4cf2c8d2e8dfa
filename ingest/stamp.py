"""Stamping, shared by the gateway and the direct client: every event gets a fresh id and,
unless a direct producer supplies its own time, the time it was received."""

from __future__ import annotations

import time
import uuid


def now_ms() -> int:
    """Wall-clock epoch milliseconds (UTC): the receive time of an event."""
    return time.time_ns() // 1_000_000


def new_event_id() -> str:
    """A fresh, unique event id (32 hex digits)."""
    return uuid.uuid4().hex
