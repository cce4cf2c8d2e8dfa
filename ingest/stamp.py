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


_VERSION_4 = bytes(b & 0x0F | 0x40 for b in range(256))  # the version nibble, as a table
_VARIANT = bytes(b & 0x3F | 0x80 for b in range(256))  # RFC 4122's variant bits


def new_event_ids(n: int) -> list[str]:
    """`n` fresh event ids (as `new_event_id` writes them) from one read of the system's
    random source, their version and variant bits set by `bytes.translate` in C: a batch's
    ids at 0.1 µs each (0.7 µs one by one: a system call each, measured 2026-12-07)."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = raw[6::16].translate(_VERSION_4)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    text = raw.hex()
    return [text[i : i + 32] for i in range(0, 32 * n, 32)]
