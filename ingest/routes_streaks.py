"""The streak endpoints under /v1: GET /streaks (Trophy's: the given users' current streak
lengths, from their view documents) and GET /streaks/rankings (Trophy's Node SDK
`streaks.rankings`): the users with the longest current or longest-ever streaks, from the
projector's streak sorted sets (layout in `schemas.views`, kept by
`processors.core.streak_views`). Reads only."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from ingest.http import api
from ingest.http.answers import StreakLength, StreakRankingUser
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

    async def lengths(self, request: Request) -> JSON:
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
        for uid, view in zip(ids, await self.gw.views.users(ids), strict=True):
            streak = None if view is None else view.streak
            length = 0 if streak is None else streak.length
            ext = None if view is None else view.extended_ms
            extended = api.timestamp(ext) if ext is not None and length else None
            out.append(StreakLength(user_id=uid, streak_length=length, extended=extended))
        out.sort(key=lambda item: -item.streak_length)
        return JSON(out)
