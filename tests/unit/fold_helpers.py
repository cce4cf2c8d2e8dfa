"""A tiny driver for worked examples: build commands tersely, fold them, inspect records."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import count

from processors.core.fold import FoldRecord, evolve
from schemas.commands import (
    AchievementAwarded,
    ClockTicked,
    Command,
    MetricTracked,
    User,
    UserIdentified,
)
from schemas.records import AchievementCompleted, Progress, StreakChanged
from schemas.rules import Rules
from schemas.state import UserState

_ids = count()


def at(text: str) -> int:
    """Epoch ms of an ISO date-time written in UTC ('2024-03-01T12:00')."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


class Run:
    def __init__(self, rules: Rules, user: str = "u1", tz: str | None = None) -> None:
        self.rules, self.user_id, self.tz = rules, user, tz
        self.sign_up: str | None = None  # the signUpDate every command's user object carries
        self.state: UserState | None = None
        self.records: list[FoldRecord] = []

    def send(self, command: Command) -> Progress:
        self.state, self.records = evolve(self.state, command, self.rules)
        progress = self.records[0]
        assert isinstance(progress, Progress)
        return progress

    def user(self, tz: str | None = None, **attributes: str) -> User:
        return User(
            id=self.user_id,
            tz=tz or self.tz,
            attributes=attributes or None,
            sign_up_date=self.sign_up,
        )

    def track(
        self,
        when: str,
        value: str | int = 1,
        metric: str = "words",
        *,
        key: str | None = None,
        tz: str | None = None,
        event_id: str | None = None,
        attributes: dict[str, str] | None = None,
        **user_attributes: str,
    ) -> Progress:
        return self.send(
            MetricTracked(
                event_id=event_id or f"e{next(_ids)}",
                time_ms=at(when),
                user=self.user(tz, **user_attributes),
                metric=metric,
                value=Decimal(str(value)),
                attributes=attributes or {},
                idempotency_key=key,
            )
        )

    def identify(self, when: str, tz: str | None = None, **attributes: str) -> Progress:
        return self.send(
            UserIdentified(
                event_id=f"e{next(_ids)}", time_ms=at(when), user=self.user(tz, **attributes)
            )
        )

    def award(self, when: str, key: str) -> Progress:
        return self.send(
            AchievementAwarded(
                event_id=f"e{next(_ids)}", time_ms=at(when), user=self.user(), achievement=key
            )
        )

    def tick(self, when: str) -> Progress:
        return self.send(
            ClockTicked(event_id=f"e{next(_ids)}", time_ms=at(when), user_id=self.user_id)
        )

    def completed(self) -> list[str]:
        return [r.achievement for r in self.records if isinstance(r, AchievementCompleted)]

    def changes(self) -> list[tuple[str, str]]:
        """(kind, date) of the streak facts of the last command."""
        return [
            (r.kind, r.id.rsplit(":", 1)[1]) for r in self.records if isinstance(r, StreakChanged)
        ]

    @property
    def streak(self) -> tuple[int, int, int]:
        """(length, longest, freezes) now."""
        assert self.state is not None
        s = self.state.streak
        return s.length, s.longest, s.freezes
