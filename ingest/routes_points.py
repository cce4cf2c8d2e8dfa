"""The points endpoints under /v1 (Trophy's): a user's points, their event summary and
boosts; a system, its summary histogram, levels, level summary and boosts. Reads only: the
Redis views (`ingest.views.ViewReader`) and the rules. Shapes in `ingest.http.api_points`.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ingest.http import api_points
from ingest.http.api import ApiError
from ingest.routes import JSON, Gateway
from schemas.rules import PointsSystem
from schemas.views import Points, UserView


@dataclass
class PointsRoutes:
    gw: Gateway

    def system(self, request: Request) -> PointsSystem:
        key = request.path_params["key"]
        system = self.gw.rules.points.get(key)
        if system is None:
            raise ApiError(404, f"points system {key!r} not found")
        return system

    async def standing(
        self, request: Request, system: PointsSystem
    ) -> tuple[str, UserView, Points | None]:
        """The user's id, view document and points in the system (404: unknown user)."""
        uid = request.path_params["id"]
        view = await self.gw.user_view(uid)
        return uid, view, view.points.get(system.key)

    # --- a user's points ---------------------------------------------------------------------

    async def user_points(self, request: Request) -> JSON:
        system = self.system(request)
        awards = api_points.awards_param(request.query_params.get("awards"))
        uid, _view, doc = await self.standing(request, system)
        return JSON(
            api_points.user_points(system, self.gw.rules, uid, doc, awards, self.gw.clock())
        )

    async def user_summary(self, request: Request) -> JSON:
        system = self.system(request)
        q = request.query_params
        aggregation, first, last = api_points.summary_params(
            q.get("aggregation"), q.get("startDate"), q.get("endDate")
        )
        _uid, _view, doc = await self.standing(request, system)
        days = () if doc is None else doc.days
        return JSON(
            api_points.event_summary(days, aggregation, first, last, self.gw.rules.week_start)
        )

    async def user_boosts(self, request: Request) -> JSON:
        system = self.system(request)
        _uid, view, _doc = await self.standing(request, system)
        return JSON(api_points.user_boosts(system, view.attributes, self.gw.clock()))

    # --- a system ----------------------------------------------------------------------------

    async def get_system(self, request: Request) -> JSON:
        return JSON(api_points.system_json(self.system(request), self.gw.rules))

    async def summary(self, request: Request) -> JSON:
        system = self.system(request)
        attrs = api_points.user_attributes_param(request.query_params.get("userAttributes"))
        views = self.gw.views
        await views.require_whole()  # counts over lost views would be partial
        if attrs is None:
            ranges = api_points.summary_ranges(await views.points_top(system.key))
            counts = await views.points_counts(system.key, [(None, 0), *ranges[1:]])
        else:
            totals = await views.points_totals_where(system.key, attrs)
            ranges = api_points.summary_ranges(max(totals, default=0))
            counts = api_points.count_ranges(totals, ranges)
        return JSON(api_points.summary_json(ranges, counts))

    async def levels(self, request: Request) -> JSON:
        return JSON([api_points.level_json(lv) for lv in self.system(request).levels])

    async def level_summary(self, request: Request) -> JSON:
        system = self.system(request)
        api_points.require_levels(system)
        await self.gw.views.require_whole()  # counts over lost views would be partial
        counts = await self.gw.views.points_counts(system.key, api_points.level_ranges(system))
        return JSON(api_points.level_summary_json(system, counts))

    async def boosts(self, request: Request) -> JSON:
        system = self.system(request)
        finished = api_points.include_finished_param(request.query_params.get("includeFinished"))
        return JSON(api_points.system_boosts(system, self.gw.clock(), finished))
