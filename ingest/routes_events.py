"""The event writes under /v1 (Trophy's): `POST /metrics/{key}/event` and
`/achievements/{key}/complete` publish one command and wait (bounded) for its answer and the
rank changes it caused; `POST /metrics/events` (and the admin batch) publishes a batch and
does not wait. Shapes and validation in `ingest.http.api`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from starlette.requests import Request

from ingest.http import api, api_leaderboards, api_points
from ingest.http.answers import Accepted, AchievementCompletion
from ingest.http.answers_leaderboards import EventLeaderboard
from ingest.routes import JSON, Gateway
from processors.core.leaderboards import run_bounds
from schemas.commands import AchievementAwarded, Command
from schemas.leaderboards import PERPETUAL_RUN, RankChanged


@dataclass
class EventRoutes:
    """Writes of events: one tracked event (waits for its answer), a batch (does not
    wait), an achievement's completion (waits)."""

    gw: Gateway

    async def track(self, request: Request) -> JSON:
        key = request.path_params["key"]
        req = api.parse_event(
            await self.gw.body(request), key, self.gw.rules, request.headers.get("idempotency-key")
        )
        await self.gw.check_attributes([req.user])
        cmd = req.tracked(self.gw.new_id(), self.gw.clock())
        folded = await self.gw.publish_and_wait(cmd)
        if folded is None:  # durably written, not yet folded: Trophy's 201, `pending: true`
            return JSON(api.pending_response(cmd.event_id, req, self.gw.rules), 201)
        progress = folded.progress
        status = 202 if progress.replayed else 201  # 202: Trophy's prose for a replay
        points = api_points.event_points(progress.points, self.gw.rules, progress.time_ms)
        boards = self.event_boards(folded.ranks.values())
        return JSON(api.event_response(progress, self.gw.rules, points, boards), status)

    async def track_batch(self, request: Request) -> JSON:
        events = api.parse_batch(await self.gw.body(request), self.gw.rules)
        await self.gw.check_attributes(e.user for e in events)
        at = self.gw.clock()
        ids = self.gw.new_ids(len(events))
        commands: list[Command] = [e.tracked(i, at) for e, i in zip(events, ids, strict=True)]
        await self.gw.publish(commands)
        return JSON(Accepted(len(commands)), 202)

    async def complete(self, request: Request) -> JSON:
        key = request.path_params["key"]
        user = api.parse_complete(await self.gw.body(request), key, self.gw.rules)
        await self.gw.check_attributes([user])
        cmd = AchievementAwarded(
            event_id=self.gw.new_id(), time_ms=self.gw.clock(), user=user, achievement=key
        )
        folded = await self.gw.publish_and_wait(cmd)
        progress = folded.progress if folded else None
        ach = self.gw.rules.achievements[key]
        done = (
            next((a for a in progress.achievements if a.achievement == key), None)
            if progress
            else None
        )
        points: dict[str, Any] = {}
        if done is not None and progress is not None:
            at: int | None = done.achieved_at_ms
            points = api_points.event_points(progress.points, self.gw.rules, progress.time_ms)
        else:  # completed before (or not yet processed): its first completion time
            view = await self.gw.views.user(user.id)
            at = cmd.time_ms if view is None else view.achievements.get(key, cmd.time_ms)
        # 201 in every case: the only success Trophy's document lists for the operation.
        # `leaderboards`: the boards the completion moved the user on, e.g. a points board
        # its points trigger counted on
        boards = self.event_boards(folded.ranks.values()) if folded else {}
        answer = AchievementCompletion(
            completion_id=cmd.event_id,
            achievement=api.achievement_json(ach, self.gw.rules, at),
            points=points,
            leaderboards=boards,
        )
        return JSON(answer, 201)

    def event_boards(self, moves: Iterable[RankChanged]) -> dict[str, EventLeaderboard]:
        """`EventResponse.leaderboards`: each board the event moved the user on, with the run
        it counted in (its dates from the run's name: its first day, or "all")."""
        out: dict[str, EventLeaderboard] = {}
        for moved in moves:
            board = self.gw.rules.leaderboards.get(moved.board)
            if board is None:  # a board the rules no longer have
                continue
            if moved.run == PERPETUAL_RUN:
                first, last = board.start, board.end
            else:
                first, last = run_bounds(board, date.fromisoformat(moved.run).toordinal())
            out[moved.board] = api_leaderboards.event_board_json(
                board, self.gw.rules, moved, first, last
            )
        return out
