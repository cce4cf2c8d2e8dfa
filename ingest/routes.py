"""The Trophy-compatible endpoints under /v1. Writes become commands on `podium.events`
(through the `EventLog` port); the single-event and complete/identify writes wait for their
`Progress` (the `AnswerFeed`) and rank changes (the `RankFeed`); reads come from the `Views`.
The ports are in `ingest.ports`; `ingest.app` plugs in the Kafka and Redis adapters.

Shapes and validation live in `ingest.http.api`; this module only moves data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ingest.http import answers, api, api_leaderboards, api_points
from ingest.http.answers import Accepted, AchievementCompletion, Error, StreakLength
from ingest.http.answers_leaderboards import EventLeaderboard
from ingest.http.api import ApiError
from ingest.kafka import NotApplied, TooLarge, Unavailable, Unconfirmed
from ingest.ports import AnswerFeed, EventLog, RankFeed, Views
from ingest.stamp import new_event_id, now_ms
from ingest.tenancy import with_tenant
from processors.core.leaderboards import run_bounds
from processors.core.metrics import event_fingerprint
from processors.core.summaries import KeptDay, summarize
from schemas.commands import (
    MAX_USER_ATTRIBUTES,
    AchievementAwarded,
    Command,
    User,
    UserIdentified,
)
from schemas.leaderboards import PERPETUAL_RUN, RankChanged, mover_rank_id
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

    # --- plumbing --------------------------------------------------------------------------

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
            raise ApiError(413, f"{exc}; nothing was recorded") from None
        except Unavailable as exc:
            raise ApiError(
                503, f"{exc}; the event was not recorded, retry later", {"Retry-After": "1"}
            ) from None
        except Unconfirmed as exc:
            raise ApiError(
                504, unconfirmed(str(exc), len(commands)), {"Retry-After": "1"}
            ) from None

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
            deadline = time.monotonic() + self.wait_s
            try:
                progress = await asyncio.wait_for(future, self.wait_s)
            except TimeoutError:
                return None
            except NotApplied as exc:
                raise not_applied(exc.refused) from None
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

    def event_boards(self, moves: Iterable[RankChanged]) -> dict[str, EventLeaderboard]:
        """`EventResponse.leaderboards`: each board the event moved the user on, with the run
        it counted in (its dates from the run's name: its first day, or "all")."""
        out: dict[str, EventLeaderboard] = {}
        for moved in moves:
            board = self.rules.leaderboards.get(moved.board)
            if board is None:  # a board the rules no longer have
                continue
            if moved.run == PERPETUAL_RUN:
                first, last = board.start, board.end
            else:
                first, last = run_bounds(board, date.fromisoformat(moved.run).toordinal())
            out[moved.board] = api_leaderboards.event_board_json(
                board, self.rules, moved, first, last
            )
        return out

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

    async def user_view(self, user_id: str) -> UserView:
        view = await self.views.user(user_id)
        if view is None:
            await self.views.require_whole()  # a lost Redis is not an unknown user
            raise ApiError(404, f"user {user_id!r} not found")
        return view

    def metric(self, key: str) -> str:
        if key not in self.rules.metrics:
            raise ApiError(404, f"metric {key!r} not found")
        return key

    # --- writes ----------------------------------------------------------------------------

    async def track(self, request: Request) -> JSON:
        key = request.path_params["key"]
        req = api.parse_event(
            await self.body(request), key, self.rules, request.headers.get("idempotency-key")
        )
        await self.check_attributes([req.user])
        cmd = req.tracked(self.new_id(), self.clock())
        folded = await self.publish_and_wait(cmd)
        if folded is None:  # durably written, not yet folded: Trophy's 201, `pending: true`
            return JSON(api.pending_response(cmd.event_id, req, self.rules), 201)
        progress = folded.progress
        status = 202 if progress.replayed else 201  # 202: Trophy's prose for a replay
        points = api_points.event_points(progress.points, self.rules, progress.time_ms)
        boards = self.event_boards(folded.ranks.values())
        return JSON(api.event_response(progress, self.rules, points, boards), status)

    async def track_batch(self, request: Request) -> JSON:
        events = api.parse_batch(await self.body(request), self.rules)
        await self.check_attributes(e.user for e in events)
        at = self.clock()
        commands: list[Command] = [e.tracked(self.new_id(), at) for e in events]
        await self.publish(commands)
        return JSON(Accepted(len(commands)), 202)

    async def complete(self, request: Request) -> JSON:
        key = request.path_params["key"]
        user = api.parse_complete(await self.body(request), key, self.rules)
        await self.check_attributes([user])
        cmd = AchievementAwarded(
            event_id=self.new_id(), time_ms=self.clock(), user=user, achievement=key
        )
        folded = await self.publish_and_wait(cmd)
        progress = folded.progress if folded else None
        ach = self.rules.achievements[key]
        done = (
            next((a for a in progress.achievements if a.achievement == key), None)
            if progress
            else None
        )
        points: dict[str, Any] = {}
        if done is not None and progress is not None:
            at: int | None = done.achieved_at_ms
            points = api_points.event_points(progress.points, self.rules, progress.time_ms)
        else:  # completed before (or not yet processed): its first completion time
            view = await self.views.user(user.id)
            at = cmd.time_ms if view is None else view.achievements.get(key, cmd.time_ms)
        # 201 in every case: the only success Trophy's document lists for the operation.
        # `leaderboards`: the boards the completion moved the user on, e.g. a points board
        # its points trigger counted on
        boards = self.event_boards(folded.ranks.values()) if folded else {}
        answer = AchievementCompletion(
            completion_id=cmd.event_id,
            achievement=api.achievement_json(ach, self.rules, at),
            points=points,
            leaderboards=boards,
        )
        return JSON(answer, 201)

    async def identify(self, request: Request) -> JSON:
        """POST /users (id in the body), PUT /users/{id}; PATCH /users/{id} (known users)."""
        path_id = request.path_params.get("id")
        user = api.parse_user(
            await self.body(request),
            "user" if path_id else "body",
            user_id=path_id,
            rules=self.rules,
        )
        if request.method == "PATCH":
            await self.user_view(user.id)
        await self.check_attributes([user])
        cmd = UserIdentified(event_id=self.new_id(), time_ms=self.clock(), user=user)
        folded = await self.publish_and_wait(cmd)
        view = await self._projected(user.id, cmd.event_id) if folded else None
        status = 201 if request.method == "POST" else 200  # Trophy's, also while pending
        if view is None:
            return JSON(self._merged(user, await self.views.user(user.id), cmd.time_ms), status)
        return JSON(api.user_json(view), status)

    async def _projected(self, user_id: str, event_id: str) -> UserView | None:
        """The user's view once the projector has applied `event_id` (bounded wait)."""
        mark = event_fingerprint(event_id)  # how the state remembers applied events
        deadline = time.monotonic() + max(self.wait_s, 0.1)
        while True:
            view = await self.views.user(user_id)
            if view is not None and mark in view.recent:
                return view
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.01)

    @staticmethod
    def _merged(user: User, view: UserView | None, at: int) -> answers.User:
        """The user as the view will show it once the command is projected: the view (or a
        new user) with the fields the command gives."""
        base = view or UserView(user_id=user.id, created_ms=at)
        given: dict[str, Any] = {
            name: getattr(user, name)
            for name in ("email", "name", "tz", "device_tokens", "subscribe_to_emails")
            if getattr(user, name) is not None
        }
        if user.sign_up_date is not None:
            given["sign_up_date"] = date.fromisoformat(user.sign_up_date)
        if user.attributes is not None:
            given["attributes"] = {**base.attributes, **user.attributes}
        return api.user_json(msgspec.structs.replace(base, **given, updated_ms=at))

    # --- reads -----------------------------------------------------------------------------

    async def user(self, request: Request) -> JSON:
        """GET, PUT and PATCH /users/{id}: one route, so a 405 lists all three in `Allow`."""
        if request.method == "GET":
            return await self.get_user(request)
        return await self.identify(request)

    async def get_user(self, request: Request) -> JSON:
        return JSON(api.user_json(await self.user_view(request.path_params["id"])))

    async def user_metrics(self, request: Request) -> JSON:
        view = await self.user_view(request.path_params["id"])
        return JSON([api.metric_json(m, view, self.rules) for m in self.rules.metrics])

    async def user_metric(self, request: Request) -> JSON:
        metric = self.metric(request.path_params["key"])
        view = await self.user_view(request.path_params["id"])
        return JSON(api.metric_json(metric, view, self.rules))

    async def user_achievements(self, request: Request) -> JSON:
        incomplete = api.bool_param(
            request.query_params.get("includeIncomplete"), "includeIncomplete"
        )
        view = await self.user_view(request.path_params["id"])
        done = view.achievements
        counts, users = await self.views.completions(self.rules.achievements)
        chosen = [a for a in self.rules.achievements.values() if incomplete or a.key in done]
        chosen.sort(key=lambda a: (a.key not in done, done.get(a.key, 0)))
        return JSON(
            [
                api.user_with_stats(a, self.rules, counts[a.key], users, done.get(a.key))
                for a in chosen
            ]
        )

    async def user_streak(self, request: Request) -> JSON:
        periods = api.int_param(
            request.query_params.get("historyPeriods"),
            "historyPeriods",
            api.DEFAULT_HISTORY_PERIODS,
            1,
            api.MAX_HISTORY_PERIODS,
        )
        view = await self.user_view(request.path_params["id"])
        return JSON(api.streak_response(view, self.rules, periods))

    async def achievements(self, request: Request) -> JSON:
        attrs = api.attributes_param(request.query_params.get("userAttributes"))
        counts, users = await self.views.completions(self.rules.achievements)
        return JSON(
            [
                api.with_stats(a, self.rules, counts[a.key], users)
                for a in self.rules.achievements.values()
                if api.accessible(a, attrs)
            ]
        )

    async def streaks(self, request: Request) -> JSON:
        raw = request.query_params.getlist("userIds")
        given = [u for part in raw for u in part.split(",") if u]
        if not given:
            raise api.bad("userIds: missing; give 1 to 100 user ids, comma-separated")
        if len(given) > api.MAX_STREAK_USERS:  # Trophy: "a list of up to 100 user IDs"
            raise api.bad(f"userIds: at most {api.MAX_STREAK_USERS} user ids, got {len(given)}")
        # an id no user can have (over 255 characters, U+0000) is an unknown user here, as
        # Trophy's document has it valid: it reads nothing, and the URL's limit bounds it
        ids = list(dict.fromkeys(given))
        out: list[StreakLength] = []
        for uid, view in zip(ids, await self.views.users(ids), strict=True):
            streak = None if view is None else view.streak
            length = 0 if streak is None else streak.length
            ext = None if view is None else view.extended_ms
            extended = api.timestamp(ext) if ext is not None and length else None
            out.append(StreakLength(user_id=uid, streak_length=length, extended=extended))
        out.sort(key=lambda item: -item.streak_length)
        return JSON(out)

    # --- preferences -----------------------------------------------------------------------

    async def preferences(self, request: Request) -> JSON:
        """GET /users/{id}/preferences; PATCH writes the notification channels it gives as a
        `UserIdentified` through the log, and answers once projected (or merged, if not)."""
        user_id = request.path_params["id"]
        if request.method == "GET":
            return JSON(api.preferences_json((await self.user_view(user_id)).notifications))
        given = api.parse_preferences(await self.body(request))
        view = await self.user_view(user_id)
        if not given:  # nothing to change: nothing written
            return JSON(api.preferences_json(view.notifications))
        cmd = UserIdentified(
            event_id=self.new_id(),
            time_ms=self.clock(),
            user=User(id=user_id, notifications=given),
        )
        folded = await self.publish_and_wait(cmd)
        projected = await self._projected(user_id, cmd.event_id) if folded else None
        if projected is None:
            return JSON(api.preferences_json({**view.notifications, **given}))
        return JSON(api.preferences_json(projected.notifications))

    # --- event summaries -------------------------------------------------------------------

    async def user_metric_summary(self, request: Request) -> JSON:
        """GET /users/{id}/metrics/{key}/event-summary, from the view's kept days (the fold
        keeps the latest `[limits] metric_days` local days with a change, 400 by default)."""
        metric = self.metric(request.path_params["key"])
        aggregation, start, end = api.summary_params(request.query_params)
        view = await self.user_view(request.path_params["id"])
        days = [
            KeptDay(d.day.toordinal(), d.added, d.total) for d in view.metric_days.get(metric, ())
        ]
        points = summarize(days, start, end, aggregation, self.rules.week_start)
        return JSON(api.summary_json(points))
