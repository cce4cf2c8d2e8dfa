"""Metric totals and idempotency keys. Pure; used by the fold for `MetricTracked`.

Totals are exact decimals: values carry at most 30 digits (schemas.commands), and sums are
computed in a 120-digit context, so no realistic sum is ever rounded.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from decimal import Context, Decimal
from hashlib import blake2b
from typing import TypeVar

from schemas.state import MetricDay

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


def record_day(
    days: tuple[MetricDay, ...], day: int, value: Decimal, total: Decimal, bound: int
) -> tuple[MetricDay, ...]:
    """The per-day history of one metric with `value` counted on local day `day`, `total`
    being the metric's total after it. Keeps the latest `bound` days (the rules'
    `[limits] metric_days`; 400 by default, Trophy's summary span). A late event
    (a day before the latest kept) lands on its own day and moves every later day's total."""
    if days:
        last = days[-1]
        if last.day == day:
            return (*days[:-1], MetricDay(day=day, added=exact_add(last.added, value), total=total))
        if last.day > day:
            return _record_late(days, day, value, bound)
    return remember(days, MetricDay(day=day, added=value, total=total), bound)


def _record_late(
    days: tuple[MetricDay, ...], day: int, value: Decimal, bound: int
) -> tuple[MetricDay, ...]:
    """`value` on `day`, before the latest kept day: the later days' totals move by it."""
    at = bisect_left([d.day for d in days], day)
    before, after = days[:at], days[at:]  # `after` holds at least the latest day
    if after[0].day == day:
        hit, after = after[0], after[1:]
        placed = MetricDay(
            day=day, added=exact_add(hit.added, value), total=exact_add(hit.total, value)
        )
    else:
        base = before[-1].total if before else _EXACT.subtract(after[0].total, after[0].added)
        placed = MetricDay(day=day, added=value, total=exact_add(base, value))
    moved = (MetricDay(day=d.day, added=d.added, total=exact_add(d.total, value)) for d in after)
    return (*before, placed, *moved)[-bound:]
