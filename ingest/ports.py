"""The gateway's ports: what `ingest.routes` and its route classes call on the world, as
`typing.Protocol`s, and nothing more. The composition root (`ingest.app`) plugs in the
adapters (`ingest.kafka.Publisher`; `ingest.answers.ProgressWaiter`, `RankWaiter`;
`ingest.views.ViewReader`; the live page's `ingest.live.PipelineProbe`); the component tier
plugs in hand-written fakes (`tests/component/fakes.py`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from ingest.http.dashboard import PipelineHealth
from schemas.commands import Command
from schemas.leaderboards import RankChanged
from schemas.records import Progress
from schemas.views import HistoryDay, UserView

Entry = tuple[str, float]  # a ranking's participant: user id, value


class EventLog(Protocol):
    """Where writes go (`podium.events`). `publish_many` raises `ingest.kafka.TooLarge`,
    `Unavailable` or `Unconfirmed`; it returns once every command is durably written."""

    @property
    def ready(self) -> bool: ...

    async def publish_many(self, commands: Sequence[Command]) -> None: ...


class AnswerFeed(Protocol):
    """The workers' answers: `expect` before the write, the future resolves with the
    command's `Progress` (or fails with `ingest.kafka.NotApplied`), `forget` releases it."""

    @property
    def ready(self) -> bool: ...

    def expect(self, event_id: str) -> asyncio.Future[Progress]: ...

    def forget(self, event_id: str) -> None: ...


class RankFeed(Protocol):
    """The ranking stage's `RankChanged`s for a command: `expect` before the write, `ranks`
    waits (at most `within_s`) for those with the given ids, `forget` releases them."""

    def expect(self, event_id: str) -> None: ...

    def forget(self, event_id: str) -> None: ...

    async def ranks(
        self, event_id: str, ids: Sequence[str], within_s: float
    ) -> Mapping[str, RankChanged]: ...


class Views(Protocol):
    """The read views (layout in `schemas.views`), for the request's tenant. A read that the
    views' state cannot answer truthfully (lost or rebuilding) raises a 503 `ApiError`."""

    async def user(self, user_id: str) -> UserView | None: ...

    async def users(self, user_ids: Iterable[str]) -> list[UserView | None]: ...

    async def completions(self, achievements: Iterable[str]) -> tuple[dict[str, int], int]: ...

    async def require_whole(self) -> None: ...

    async def points_top(self, system: str) -> int: ...

    async def points_counts(
        self, system: str, ranges: Sequence[tuple[int | None, int | None]]
    ) -> list[int]: ...

    async def points_totals_where(self, system: str, attrs: Mapping[str, str]) -> list[int]: ...

    async def names(self, user_ids: Sequence[str]) -> list[str | None]: ...

    async def streak_ranking(self, kind: str, limit: int) -> list[tuple[str, int]]: ...

    async def board_page(self, ranking: str, start: int, stop: int) -> list[Entry]: ...

    async def board_standing(self, ranking: str, user_id: str) -> tuple[int, float] | None: ...

    async def board_history(self, ranking: str, user_id: str) -> list[HistoryDay]: ...

    async def year_ranks(
        self, user_id: str, year: int, series: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int]]: ...

    async def built(self) -> bool: ...

    async def ping(self) -> bool: ...


class Pipeline(Protocol):
    """What the broker says of the pipeline's processes (`ingest.live.PipelineProbe`): each
    consumer group's members and lag, the dead letters parked."""

    async def health(self) -> PipelineHealth: ...
