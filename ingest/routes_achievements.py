"""GET /v1/achievements (Trophy's): every achievement the given user attributes may see,
with its completion statistics from the views. Reads only."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ingest.http import api
from ingest.routes import JSON, Gateway


@dataclass
class AchievementRoutes:
    gw: Gateway

    async def achievements(self, request: Request) -> JSON:
        attrs = api.attributes_param(request.query_params.get("userAttributes"))
        counts, users = await self.gw.views.completions(self.gw.rules.achievements)
        return JSON(
            [
                api.with_stats(a, self.gw.rules, counts[a.key], users)
                for a in self.gw.rules.achievements.values()
                if api.accessible(a, attrs)
            ]
        )
