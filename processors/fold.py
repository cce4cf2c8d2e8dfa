"""The pure fold: one user's state and one command in, the new state and its records out.

Reads commands from `podium.events` (via the runtime); its records go to `podium.progress`
(`Progress`, exactly one per command, first), `podium.achievements` (`AchievementCompleted`)
and `podium.streaks` (`StreakChanged`). No I/O, no clock, no await: time is the command's own.
"""

from __future__ import annotations

from schemas.commands import Command
from schemas.records import AchievementCompleted, Progress, StreakChanged
from schemas.rules import Rules
from schemas.state import UserState

FoldRecord = Progress | AchievementCompleted | StreakChanged


def evolve(
    state: UserState | None, command: Command, rules: Rules
) -> tuple[UserState, list[FoldRecord]]:
    """Apply one command; the records start with exactly one `Progress`."""
    raise NotImplementedError


def close_periods(
    state: UserState, at_ms: int, rules: Rules
) -> tuple[UserState, list[FoldRecord]]:
    """Settle streak loss and freeze use (and freeze auto-earn) up to `at_ms`."""
    raise NotImplementedError
