"""GET /v1/users/{id}/wrapped (Trophy's year in review): the user's view document aggregated
by `processors.core.wrapped`, the percentiles from the projector's yearly sorted sets (layout in
`schemas.views`). Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from starlette.requests import Request

from ingest.http.api_wrapped import year_param
from ingest.http.wrapped import wrapped_json
from ingest.routes import JSON, Gateway
from processors.core.periods import local_ordinal
from processors.core.wrapped import percentile


@dataclass
class WrappedRoutes:
    gw: Gateway

    async def wrapped(self, request: Request) -> JSON:
        """The year `year` (by default the current one in the user's zone, the latest
        allowed) of the user's activity; 404 for an unknown user, 422 for a bad year."""
        rules = self.gw.rules
        uid = request.path_params["id"]
        view = await self.gw.user_view(uid)
        today = date.fromordinal(local_ordinal(self.gw.clock(), view.tz))
        year = year_param(request.query_params.get("year"), today.year)
        series = [("metric", m) for m in rules.metrics] + [("points", s) for s in rules.points]
        ranks = await self.gw.views.year_ranks(uid, year, series)
        percentiles = {s: percentile(below, users) for s, (below, users) in ranks.items()}
        return JSON(wrapped_json(view, rules, year, percentiles))
