"""GET /v1/streaks/rankings (Trophy's Node SDK `streaks.rankings`): the users with the
longest current or longest-ever streaks, from the projector's streak sorted sets (layout in
`schemas.views`, kept by `processors.core.streak_views`). Reads only."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ingest.http import api
from ingest.http.answers import StreakRankingUser
from ingest.routes import JSON, Gateway


@dataclass
class StreakRoutes:
    gw: Gateway

    async def rankings(self, request: Request) -> JSON:
        """A list of `{userId, name, streakLength}` (Trophy's `StreakRankingUser`), longest
        first, ties by user id; users with no streak are not ranked. `name` is null when the
        user has none."""
        limit, kind = api.streak_ranking_params(request.query_params)
        ranked = await self.gw.views.streak_ranking(kind, limit)
        views = await self.gw.views.users(uid for uid, _ in ranked) if ranked else []
        return JSON(
            [
                StreakRankingUser(
                    user_id=uid, name=None if view is None else view.name, streak_length=length
                )
                for (uid, length), view in zip(ranked, views, strict=True)
            ]
        )
