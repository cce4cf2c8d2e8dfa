"""The leaderboard endpoints under /v1 (Trophy's): every board, one board's rankings, one
user's standing on a board. Reads only: the rules, the Redis board views (one sorted set per
ranking `board|run|group`, `ingest.views.ViewReader.board_page` / `board_standing`, and the
participant's daily history, `board_history`) and the user views (names, time zones,
attributes). Shapes in `ingest.http.api_leaderboards`.

Which run and which status: a board's runs and status are local dates
(`processors.core.leaderboards`), so "today" is the date in the zone of the user the request is
about (`userId`, or the user of `/users/{id}/leaderboards/{key}`), else in UTC; the list of
boards uses UTC. Without `run=` the answer is about the run containing today, or the board's
first run before its start and its last run after its end. A `run=` date outside the board's
dates is a 404 naming it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from starlette.requests import Request

from ingest.http import api_leaderboards as lb
from ingest.http.answers_leaderboards import LeaderboardRanking, LeaderboardWithRankings
from ingest.http.api import ApiError
from ingest.ports import Entry
from ingest.routes import JSON, Gateway
from ingest.tenancy import ranking as tenant_ranking
from processors.core.leaderboards import group_of, run_id, status
from processors.core.periods import local_ordinal
from schemas.rules import Leaderboard


@dataclass
class LeaderboardRoutes:
    gw: Gateway

    def board(self, request: Request) -> Leaderboard:
        key = request.path_params["key"]
        board = self.gw.rules.leaderboards.get(key)
        if board is None:
            raise ApiError(404, f"leaderboard {key!r} not found")
        return board

    def today(self, tz: str | None) -> int:
        """Today's date (ordinal) in the zone `tz` (UTC when None)."""
        return local_ordinal(self.gw.clock(), tz)

    @staticmethod
    def run_of(board: Leaderboard, asked: int | None, today: int) -> str:
        """The run a request is about: the one containing the `run=` date (404 outside the
        board's dates), else the one containing today, kept within the board's dates."""
        first, last = board.start, board.end
        if asked is not None:
            if (first is not None and asked < first) or (last is not None and asked > last):
                raise lb.no_such_run(board, asked)
            try:
                return run_id(board, asked)
            except ValueError:  # e.g. a weekly run from Sunday would begin in year 0
                raise ApiError(
                    404,
                    f"leaderboard {board.key!r} has no run on {date.fromordinal(asked)}: "
                    "the run would begin before 0001-01-01",
                ) from None
        day = today if first is None else max(today, first)
        return run_id(board, day if last is None else min(day, last))

    async def names(self, user_ids: list[str]) -> list[str | None]:
        """The users' names (None: no name, or no document), in one read of the names hash
        the projector keeps, not a view document per entry."""
        return await self.gw.views.names(user_ids)

    # --- GET /leaderboards ---------------------------------------------------------------

    async def all(self, request: Request) -> JSON:
        finished = lb.include_finished_param(request.query_params.get("includeFinished"))
        today, rules = self.today(None), self.gw.rules
        out = []
        for board in rules.leaderboards.values():
            state = status(board, today)
            if state != "finished" or finished:
                out.append(lb.board_json(board, rules, state))
        return JSON(out)

    # --- GET /leaderboards/{key} ---------------------------------------------------------

    async def get(self, request: Request) -> JSON:
        board = self.board(request)
        q = request.query_params
        offset, limit = lb.page_params(q)
        asked = lb.run_param(q.get("run"))
        attrs = lb.breakdown_param(board, q.get("userAttributes"))
        uid = q.get("userId")  # an id no user can have is a user not on the board: no entries
        view = await self.gw.views.user(uid) if uid else None
        today = self.today(None if view is None else view.tz)
        group = group_of(board, attrs) or ""
        ranking = tenant_ranking(board.key, self.run_of(board, asked, today), group)
        rankings = await self.rankings(board, ranking, uid, offset, limit)
        fields = lb.board_fields(board, self.gw.rules, status(board, today))
        return JSON(LeaderboardWithRankings(**fields, rankings=rankings))

    async def rankings(
        self, board: Leaderboard, ranking: str, uid: str | None, offset: int, limit: int
    ) -> list[LeaderboardRanking]:
        """A page of the ranking: `limit` entries from position `offset` on, counted from the
        user's position when `uid` is given (empty when the user is not on the board); never
        past the board's `max_participants`."""
        start = offset
        if uid is not None:
            standing = await self.gw.views.board_standing(ranking, uid)
            if standing is None or not self.shown(board, standing[0]):
                return []
            start = standing[0] + offset
        stop = start + limit
        if board.max_participants is not None:
            stop = min(stop, board.max_participants)
        entries = await self.gw.views.board_page(ranking, start, stop)
        return self.rendered(start, entries, await self.names([u for u, _ in entries]))

    @staticmethod
    def shown(board: Leaderboard, position: int) -> bool:
        """Whether a position (0 is first) is on the board: within `max_participants`."""
        return board.max_participants is None or position < board.max_participants

    @staticmethod
    def rendered(
        start: int, entries: list[Entry], names: list[str | None]
    ) -> list[LeaderboardRanking]:
        return [
            lb.ranking_json(user, name, start + i + 1, value)
            for i, ((user, value), name) in enumerate(zip(entries, names, strict=True))
        ]

    # --- GET /users/{id}/leaderboards/{key} ----------------------------------------------

    async def user_board(self, request: Request) -> JSON:
        """The user's rank and value on the board's run (null when not on the board) and the
        latest `numEvents` days of the user's history on it. The group is the one of the
        user's current attributes (no group: no rank, no history)."""
        board = self.board(request)
        q = request.query_params
        asked = lb.run_param(q.get("run"))
        count = lb.events_param(q.get("numEvents"))
        uid = request.path_params["id"]
        view = await self.gw.user_view(uid)
        today = self.today(view.tz)
        run = self.run_of(board, asked, today)
        group = group_of(board, view.attributes)
        standing, history = None, []
        if group is not None:
            ranking = tenant_ranking(board.key, run, group)
            got = await self.gw.views.board_standing(ranking, uid)
            if got is not None and self.shown(board, got[0]):
                standing = (got[0] + 1, got[1])
            history = lb.history_json(await self.gw.views.board_history(ranking, uid), count)
        fields = lb.board_fields(board, self.gw.rules, status(board, today))
        return JSON(lb.user_board_json(fields, standing, history))
