"""What every route class under /v1 shares: `Gateway`, the context (the rules, the ports of
`ingest.ports`, the clock, the event ids, the waits) with the plumbing the handlers have in
common: the bounded body, the publish to the `EventLog`, the bounded wait for the command's
`Progress` (the `AnswerFeed`) and rank changes (the `RankFeed`), the attribute limit and the
user's view (the `Views`). The handlers are grouped by resource in `ingest/routes_*.py`
(events, users, achievements, streaks, points, leaderboards, wrapped); `ingest.app` wires the
Kafka and Redis adapters and holds the route table.

Shapes and validation live in `ingest.http.api`; this module only moves data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ingest import telemetry
from ingest.answers import NotApplied
from ingest.http import api
from ingest.http.answers import Error
from ingest.http.api import ApiError
from ingest.kafka import TooLarge, Unavailable, Unconfirmed
from ingest.ports import AnswerFeed, EventLog, RankFeed, Views
from ingest.stamp import new_event_id, new_event_ids, now_ms
from ingest.tenancy import with_tenant
from schemas.commands import MAX_USER_ATTRIBUTES, Command, User
from schemas.leaderboards import RankChanged, mover_rank_id
from schemas.records import EventRefused, Progress, reason_class
from schemas.rules import Rules
from schemas.views import UserView


class JSON(Response):
    """An answer: a Struct of `ingest.http.answers` (or a dict, list of them) as JSON."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return msgspec.json.encode(content)


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSON:
    return JSON(Error(message), status_code=status, headers=dict(headers or {}))


def unconfirmed(reason: str, count: int) -> str:
    """The answer to a write whose outcome is unknown: it may be in the log."""
    what = "the event" if count == 1 else f"the {count} events"
    return (
        f"{reason}; {what} may or may not have been recorded. Retry with the same "
        "Idempotency-Key on each event so that a retry cannot count it twice"
    )


def not_applied(refused: EventRefused) -> ApiError:
    """The answer to a write the worker dead-lettered: 500 when the fold failed (a bug), else
    422 with the reason. The event is in the log but will never count; a retry of the same
    request would be refused the same way."""
    where = f"it is parked on the dead-letter topic as {refused.dead_letter}"
    if reason_class(refused.reason) == "fold":
        return ApiError(500, f"internal error: the event was recorded but not applied; {where}")
    return ApiError(422, f"the event was recorded but not applied: {refused.reason}; {where}")


class Folded(NamedTuple):
    """What the gateway learned of a command it waited for: its `Progress`, and the rank
    changes of the boards it moved (by `RankChanged.id`) that the ranking stage made in time."""

    progress: Progress
    ranks: Mapping[str, RankChanged]


@dataclass
class Gateway:
    """The route classes' shared context and plumbing (no handler lives here)."""

    rules: Rules
    publisher: EventLog
    waiter: AnswerFeed
    views: Views
    ranks: RankFeed | None = None  # None: the rules have no leaderboards
    wait_s: float = 2.0
    rank_wait_s: float = 1.0  # of `wait_s`, the most spent waiting for ranks
    max_body: int = 1_048_576
    clock: Callable[[], int] = field(default=now_ms)
    new_id: Callable[[], str] = field(default=new_event_id)
    new_ids: Callable[[int], list[str]] = field(default=new_event_ids)  # a batch's

    async def body(self, request: Request) -> bytes:
        """The request body's bytes (bounded); `ingest.http.api` decodes them."""
        size = request.headers.get("content-length")
        if size is not None and size.isdigit() and int(size) > self.max_body:
            raise ApiError(
                413, f"request body of {size} bytes exceeds the limit of {self.max_body} bytes"
            )
        chunks: list[bytes] = []
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > self.max_body:
                raise ApiError(413, f"request body exceeds the limit of {self.max_body} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if not raw.strip():
            raise api.bad("request body: missing; expected a JSON object")
        return raw

    async def publish(self, commands: list[Command]) -> None:
        """Write the commands (their user ids qualified by the request's tenant)."""
        try:
            await self.publisher.publish_many([with_tenant(c) for c in commands])
        except TooLarge as exc:
            telemetry.PUBLISHED_REFUSED.inc(len(commands))
            raise ApiError(413, f"{exc}; nothing was recorded") from None
        except Unavailable as exc:
            telemetry.PUBLISHED_REFUSED.inc(len(commands))
            raise ApiError(
                503, f"{exc}; the event was not recorded, retry later", {"Retry-After": "1"}
            ) from None
        except Unconfirmed as exc:
            telemetry.PUBLISHED_FAILED.inc(len(commands))
            raise ApiError(
                504, unconfirmed(str(exc), len(commands)), {"Retry-After": "1"}
            ) from None
        telemetry.PUBLISHED_OK.inc(len(commands))

    async def publish_and_wait(self, command: Command) -> Folded | None:
        """Publish, then wait (bounded by `wait_s` in all) for the command's progress and
        (at most `rank_wait_s` of it) for the rank changes it caused; None when the progress
        did not come in time. The waiters' entries are released however this ends (answered,
        timed out, refused, or cancelled because the client went away), so their pending maps
        cannot grow."""
        eid = command.event_id
        future = self.waiter.expect(eid) if self.wait_s > 0 else None
        ranks = self.ranks if future is not None else None
        if ranks is not None:
            ranks.expect(eid)  # before the write: no rank change can come first
        try:
            await self.publish([command])
            if future is None:
                return None
            acknowledged = time.monotonic()
            deadline = acknowledged + self.wait_s
            try:
                progress = await asyncio.wait_for(future, self.wait_s)
            except TimeoutError:
                telemetry.PENDING.observe(time.monotonic() - acknowledged)
                return None
            except NotApplied as exc:
                telemetry.ANSWERED.observe(time.monotonic() - acknowledged)
                raise not_applied(exc.refused) from None
            telemetry.ANSWERED.observe(time.monotonic() - acknowledged)
            if ranks is None or not progress.scores:
                return Folded(progress, {})
            wanted = [mover_rank_id(score) for score in progress.scores]
            within = min(deadline - time.monotonic(), self.rank_wait_s)
            return Folded(progress, await ranks.ranks(eid, wanted, within))
        finally:
            if future is not None:
                self.waiter.forget(eid)
            if ranks is not None:
                ranks.forget(eid)

    async def check_attributes(self, users: Iterable[User]) -> None:
        """422 when the user objects' attributes (in order) would give a user more than
        `MAX_USER_ATTRIBUTES`, counting those the user's view holds (the fold refuses them
        too, should the view lag: `processors.core.users.attributes_problem`)."""
        merged: dict[str, set[str]] = {}
        for user in users:
            if not user.attributes:
                continue
            if user.id not in merged:
                view = await self.views.user(user.id)
                merged[user.id] = set() if view is None else set(view.attributes)
            keys = merged[user.id]
            stored = len(keys)
            keys.update(user.attributes)
            if len(keys) > MAX_USER_ATTRIBUTES:
                raise api.bad(
                    f"user.attributes: a user has at most {MAX_USER_ATTRIBUTES} attributes; "
                    f"user {user.id[:64]!r} has {stored} and these would make {len(keys)}"
                )

    async def checks(self) -> dict[str, bool]:
        """What /ready reports: Kafka, the answer listener (`progress`) and Redis answer, and
        whether the read views are whole (`views`: not a readiness condition)."""
        return {
            "kafka": self.publisher.ready,
            "progress": self.waiter.ready,  # its answer listener listens
            "redis": await self.views.ping(),
            "views": await self.views.built(),
        }

    async def user_view(self, user_id: str) -> UserView:
        view = await self.views.user(user_id)
        if view is None:
            await self.views.require_whole()  # a lost Redis is not an unknown user
            raise ApiError(404, f"user {user_id!r} not found")
        return view
