"""The live page: `GET /dashboard` and its script and style (static, they hold no data), and
the three reads it makes with the API key in `X-API-KEY` (and the tenant in `Tenant-ID`), like
any other request:

- `GET /dashboard/api/overview?userId=`: each board's top ten and the named user's place,
  the achievements with completions and rarity, the points systems' levels with their users;
- `GET /dashboard/api/feed`: the live feed as server-sent events (`ingest.feed`): `status`
  (the feed's `live` flag), `facts` (a list of `FeedItem`), `missed` (lines this page lost
  by not keeping up), and a comment every `HEARTBEAT_S` seconds;
- `GET /dashboard/api/health`: the gateway's checks (as /ready), what the broker says of the
  pipeline's processes (`ingest.live.PipelineProbe`) and the feed.

The page keeps the key in the tab's sessionStorage and sends it in a header, never in a URL
(docs/live-page.md); every page answer forbids framing, caching and sniffing, and its
Content-Security-Policy allows only this origin's script and style.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ingest.feed import LiveFeed, next_lines
from ingest.http import api, api_points
from ingest.http import api_leaderboards as lb
from ingest.http.api import ApiError
from ingest.http.dashboard import (
    BoardTop,
    Health,
    Overview,
    Place,
    PointsOverview,
    UserPoints,
)
from ingest.ports import Pipeline
from ingest.routes import JSON, Gateway
from ingest.routes_leaderboards import LeaderboardRoutes
from ingest.tenancy import TENANT
from ingest.tenancy import ranking as tenant_ranking
from processors.core.leaderboards import group_of, status
from schemas.rules import Leaderboard, PointsSystem
from schemas.views import UserView

log = logging.getLogger("podium.gateway")
STATIC = Path(__file__).parent / "dashboard"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
PAGE_PATHS = frozenset({"/dashboard", *(f"/dashboard/{name}" for name in ASSETS)})
TOP = 10
HEARTBEAT_S = 15.0
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
NOTE = (
    "processes and lag are the broker's view of each consumer group (members and committed "
    "offsets); the processes' own /metrics endpoints are not read here yet"
)


def sse(event: str, data: object) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + msgspec.json.encode(data) + b"\n\n"


@dataclass
class DashboardRoutes:
    gw: Gateway
    feed: LiveFeed
    pipeline: Pipeline | None = None  # None: no broker to ask (component tests)
    boards: LeaderboardRoutes = field(init=False)

    def __post_init__(self) -> None:
        self.boards = LeaderboardRoutes(self.gw)

    # --- the page and its files -----------------------------------------------------------

    async def page(self, request: Request) -> Response:
        return self.static("index.html", "text/html; charset=utf-8")

    async def asset(self, request: Request) -> Response:
        name = request.url.path.rsplit("/", 1)[1]
        return self.static(name, ASSETS[name] + "; charset=utf-8")

    @staticmethod
    def static(name: str, media_type: str) -> Response:
        return Response((STATIC / name).read_bytes(), media_type=media_type, headers=PAGE_HEADERS)

    # --- GET /dashboard/api/overview ------------------------------------------------------

    async def overview(self, request: Request) -> JSON:
        raw = request.query_params.get("userId") or None
        uid = None if raw is None else api.user_id_param(raw, "userId")
        view = None if uid is None else await self.gw.views.user(uid)
        rules = self.gw.rules
        today = self.boards.today(None if view is None else view.tz)
        boards = [
            await self.board_top(board, uid, view)
            for board in rules.leaderboards.values()
            if status(board, today) != "finished"
        ]
        counts, users = await self.gw.views.completions(rules.achievements)
        achievements = [
            api.with_stats(a, rules, counts[a.key], users) for a in rules.achievements.values()
        ]
        points = [await self.points_of(system, view) for system in rules.points.values()]
        return JSON(
            Overview(
                boards=boards,
                achievements=achievements,
                points=points,
                user_id=uid,
                user_found=view is not None,
            )
        )

    async def board_top(
        self, board: Leaderboard, uid: str | None, view: UserView | None
    ) -> BoardTop:
        """The board's current run (in the named user's zone): its top ten, the user's place."""
        today = self.boards.today(None if view is None else view.tz)
        run = self.boards.run_of(board, None, today)
        shown_run = None if board.run_unit is None else run  # a perpetual board has one run
        top = BoardTop(
            key=board.key, name=board.name, status=status(board, today), run=shown_run, top=[]
        )
        group = group_of(board, {} if view is None else view.attributes)
        if group is None:
            by = ", ".join(board.breakdown_attributes)
            note = f"ranked apart by {by}: name a user to see the group they are in"
            if view is not None:
                note = f"ranked apart by {by}: {view.user_id!r} has no group"
            return msgspec.structs.replace(top, note=note)
        ranking = tenant_ranking(board.key, run, group)
        rankings = await self.boards.rankings(board, ranking, None, 0, TOP)
        place = None
        if uid is not None:
            standing = await self.gw.views.board_standing(ranking, uid)
            if standing is not None and self.boards.shown(board, standing[0]):
                place = Place(rank=standing[0] + 1, value=lb.whole(standing[1]))
        return msgspec.structs.replace(top, top=rankings, user=place)

    async def points_of(self, system: PointsSystem, view: UserView | None) -> PointsOverview:
        levels = []
        if system.levels:
            ranges = api_points.level_ranges(system)
            counts = await self.gw.views.points_counts(system.key, ranges)
            levels = api_points.level_summary_json(system, counts)
        mine = None if view is None else view.points.get(system.key)
        user = None
        if view is not None:
            total = 0 if mine is None else mine.total
            level = api_points.level_of(system, None if mine is None else mine.level)
            user = UserPoints(total=total, level=None if level is None else level.name)
        return PointsOverview(key=system.key, name=system.name, levels=levels, user=user)

    # --- GET /dashboard/api/health --------------------------------------------------------

    async def health(self, request: Request) -> JSON:
        pipeline, problem = None, None
        if self.pipeline is not None:
            try:
                pipeline = await self.pipeline.health()
            except Exception as exc:  # the broker is down or slow: say so, keep the rest
                problem = f"the broker did not answer ({type(exc).__name__}: {exc})"[:300]
        return JSON(
            Health(
                gateway=await self.gw.checks(),
                pipeline=pipeline,
                pipeline_error=problem,
                feed_readers=int(self.feed.reading),
                feed_pages=self.feed.pages,
                note=NOTE,
            )
        )

    # --- GET /dashboard/api/feed ----------------------------------------------------------

    async def stream(self, request: Request) -> Response:
        return StreamingResponse(
            self.events(TENANT.get()),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def events(self, tenant: str | None) -> AsyncIterator[bytes]:
        """The page's stream, until it goes away (Starlette then cancels this)."""
        async with self.feed.subscribe(tenant) as sub:
            live = self.feed.live
            yield sse("status", {"live": live})
            while True:
                items = await next_lines(sub, HEARTBEAT_S, self.names)
                if self.feed.live != live:
                    live = self.feed.live
                    yield sse("status", {"live": live})
                if sub.missed:
                    yield sse("missed", {"lines": sub.missed})
                    sub.missed = 0
                yield sse("facts", items) if items else b": keep-alive\n\n"

    async def names(self, user_ids: list[str]) -> list[str | None]:
        """The users' names; none while the views are rebuilt (a line is worth more)."""
        try:
            return await self.gw.views.names(user_ids)
        except ApiError:
            return [None] * len(user_ids)
