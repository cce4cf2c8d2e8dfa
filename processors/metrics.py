"""Metric totals and idempotency keys. Pure; used by the fold for `MetricTracked`.

Totals are exact decimals: values carry at most 30 digits (schemas.commands), and sums are
computed in a 120-digit context, so no realistic sum is ever rounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Context, Decimal
from hashlib import blake2b
from typing import TypeVar

ZERO = Decimal(0)
T = TypeVar("T")
_EXACT = Context(prec=120, Emax=999_999, Emin=-999_999)


exact_add = _EXACT.add  # (Decimal, Decimal) -> Decimal, without rounding


def add(total: Decimal | None, value: Decimal) -> Decimal:
    """total + value, exactly (a missing total is zero; -0 never appears)."""
    return _EXACT.add(ZERO if total is None else total, value)


def short_hash(text: str) -> str:
    """A compact, stable fingerprint (16 hex digits) of an idempotency key or event id."""
    return blake2b(text.encode(), digest_size=8).hexdigest()


def event_fingerprint(event_id: str) -> str:
    """How an event id is remembered: itself when short (exact), else its fingerprint."""
    return event_id if len(event_id) <= 40 else "#" + short_hash(event_id)


def remember(kept: tuple[T, ...], item: T, bound: int) -> tuple[T, ...]:
    """Append `item`, dropping the oldest beyond `bound` (0 = unbounded): idempotency-key
    fingerprints, streak history."""
    if bound and len(kept) >= bound:
        return (*kept[len(kept) - bound + 1 :], item)
    return (*kept, item)


def remember_key(
    keys: Mapping[str, tuple[str, ...]], metric: str, fingerprint: str, bound: int
) -> dict[str, tuple[str, ...]]:
    out = dict(keys)
    out[metric] = remember(keys.get(metric, ()), fingerprint, bound)
    return out
