"""The command being folded, as every concern sees it. Pure.

The fold builds one `Moment` per command, after the command's profile change (so the zone
and the attributes are the ones the user has after it), and hands the same value to streaks,
achievements, points and leaderboards instead of ids and times one by one.
"""

from __future__ import annotations

from collections.abc import Mapping

from processors.core.periods import local_ordinal
from schemas.values import Value


class Moment(Value, frozen=True):
    """Who, which event, when (the instant and the user's local date), in which zone, with
    which user attributes. Frozen and slotted; built for every command, so on `Value`
    (C-speed construction and reads)."""

    user_id: str
    event_id: str
    time_ms: int  # the command's own time (a tick settles its streak as of an earlier one)
    tz: str | None  # the user's IANA zone; None is UTC
    attributes: Mapping[str, str]  # the user's attributes
    day: int  # the local date (ordinal) at `time_ms` in `tz`: worked out once per command

    @classmethod
    def of(
        cls,
        user_id: str,
        event_id: str,
        time_ms: int,
        tz: str | None,
        attributes: Mapping[str, str],
    ) -> Moment:
        """The moment, with its local date worked out from the time and the zone."""
        return cls(user_id, event_id, time_ms, tz, attributes, local_ordinal(time_ms, tz))


def matches(required: Mapping[str, str], actual: Mapping[str, str]) -> bool:
    """Whether `actual` has every attribute `required` names, with its value (a rule's user or
    event attribute filter; no filter matches everything)."""
    # The common case is no filter: answered without a generator.
    return not required or all(actual.get(k) == v for k, v in required.items())
