"""The fold reads "facts, then progress": every concern gets the command as one `Moment`, and
`evolve` builds the command's one `Progress` last. The outcomes themselves are pinned by the
other fold tests and the state vectors; these check the shape that keeps them so."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from processors.core import achievements, fold, leaderboards, points, streaks
from processors.core.fold import evolve
from processors.core.moment import Moment
from schemas.commands import MetricTracked, User
from schemas.records import Progress
from schemas.rules_parse import load_rules
from tests.rules import NODE_PATH

CONCERNS: list[Callable[..., object]] = [
    achievements.on_metric,
    achievements.on_streak,
    achievements.on_api,
    achievements.on_anniversary,
    achievements.on_composites,
    streaks.advance,
    points.apply,
    leaderboards.score_changes,
]


@pytest.mark.parametrize("concern", CONCERNS, ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_every_concern_takes_the_moment_not_ids_and_times(concern: Callable[..., object]) -> None:
    params = set(inspect.signature(concern).parameters)
    assert "moment" in params
    assert not params & {"user_id", "event_id", "time_ms", "tz", "user_attributes"}


def test_a_moment_cannot_change() -> None:
    moment = Moment.of("u", "e", 1, "Asia/Tokyo", {"plan": "pro"})
    with pytest.raises(AttributeError):
        moment.time_ms = 2  # type: ignore[misc]
    assert not hasattr(moment, "__dict__")


@pytest.mark.parametrize(
    ("tz", "local"),
    [("Asia/Tokyo", "2025-03-06"), ("America/New_York", "2025-03-05"), (None, "2025-03-05")],
)
def test_a_moment_carries_the_user_s_local_date(tz: str | None, local: str) -> None:
    at = int(datetime(2025, 3, 5, 20, tzinfo=UTC).timestamp() * 1000)  # Tokyo +9, New York -5
    assert Moment.of("u", "e", at, tz, {}).day == date.fromisoformat(local).toordinal()


def test_the_progress_is_built_last_and_never_amended(monkeypatch: Any) -> None:
    """A command that moves points and board scores: its one `Progress` carries both, and
    no `Progress` is ever copied with a change on the way."""
    replaced: list[type] = []
    fold_replace = fold.replace

    def replace(value: Any, /, **changes: Any) -> Any:
        replaced.append(type(value))
        return fold_replace(value, **changes)

    monkeypatch.setattr(fold, "replace", replace)
    words = MetricTracked(
        event_id="e1",
        time_ms=int(datetime(2025, 3, 5, 12, tzinfo=UTC).timestamp() * 1000),
        user=User(id="ada", tz="Europe/London"),
        metric="words-written",
        value=Decimal(50),
    )
    _, records = evolve(None, words, load_rules(NODE_PATH))
    assert Progress not in replaced
    assert replaced  # the watch is on: the state itself is built by `replace`
    first = records[0]
    assert isinstance(first, Progress)
    assert [type(r) for r in records].count(Progress) == 1
    assert first.points and first.scores  # what came last is on it
    assert {type(r).__name__ for r in records[1:]} >= {"PointsChanged", "ScoreChanged"}
