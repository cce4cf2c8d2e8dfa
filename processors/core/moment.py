"""The command being folded, as every concern sees it. Pure.

The fold builds one `Moment` per command, after the command's profile change (so the zone
and the attributes are the ones the user has after it), and hands the same value to streaks,
achievements, points and leaderboards instead of ids and times one by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple


class Moment(NamedTuple):
    """Who, which event, when, in which zone, with which user attributes.

    Immutable and slotted; a named tuple rather than a frozen dataclass because it is built
    for every command on the fold's hot path, where a frozen dataclass's `__init__` (one
    `object.__setattr__` per field) costs measurably more."""

    user_id: str
    event_id: str
    time_ms: int  # the command's own time (a tick settles its streak as of an earlier one)
    tz: str | None  # the user's IANA zone; None is UTC
    attributes: Mapping[str, str]  # the user's attributes
