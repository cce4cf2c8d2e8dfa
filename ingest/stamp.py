"""Stamping, shared by the gateway and the direct client: every event gets a fresh id and,
unless a direct producer supplies its own time, the time it was received."""

from __future__ import annotations

import os
import time


def now_ms() -> int:
    """Wall-clock epoch milliseconds (UTC): the receive time of an event."""
    return time.time_ns() // 1_000_000


def new_event_id() -> str:
    """A fresh, unique event id: a random (version 4) UUID as 32 hex digits, as
    `uuid.uuid4().hex` writes it, in a third of the time (its UUID object cost the batch
    endpoint 4 µs of about 30 per event)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()
