"""A user's endpoints under /v1 (Trophy's): identify (`POST /users`, `PUT` and `PATCH
/users/{id}`, written through the log and answered once projected, or merged while pending),
the user, its metrics, achievements, streak, notification preferences and a metric's event
summary (reads of the views). Shapes and validation in `ingest.http.api`.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

import msgspec
from starlette.requests import Request

from ingest.http import answers, api
from ingest.http.api import ApiError
from ingest.routes import JSON, Gateway
from processors.core.metrics import event_fingerprint
from processors.core.summaries import KeptDay, summarize
from schemas.commands import User, UserIdentified
from schemas.views import UserView


@dataclass
class UserRoutes:
    """A user: identify (create, replace, update), read, metrics, achievements, streak,
    preferences and a metric's event summary."""

    gw: Gateway

    async def user(self, request: Request) -> JSON:
        """GET, PUT and PATCH /users/{id}: one route, so a 405 lists all three in `Allow`."""
        if request.method == "GET":
            return await self.get_user(request)
        return await self.identify(request)

    async def get_user(self, request: Request) -> JSON:
        return JSON(api.user_json(await self.gw.user_view(request.path_params["id"])))

    async def identify(self, request: Request) -> JSON:
        """POST /users (id in the body), PUT /users/{id}; PATCH /users/{id} (known users)."""
        path_id = request.path_params.get("id")
        user = api.parse_user(
            await self.gw.body(request),
            "user" if path_id else "body",
            user_id=path_id,
            rules=self.gw.rules,
        )
        if request.method == "PATCH":
            await self.gw.user_view(user.id)
        await self.gw.check_attributes([user])
        cmd = UserIdentified(event_id=self.gw.new_id(), time_ms=self.gw.clock(), user=user)
        folded = await self.gw.publish_and_wait(cmd)
        view = await self._projected(user.id, cmd.event_id) if folded else None
        status = 201 if request.method == "POST" else 200  # Trophy's, also while pending
        if view is None:
            return JSON(self._merged(user, await self.gw.views.user(user.id), cmd.time_ms), status)
        return JSON(api.user_json(view), status)

    async def _projected(self, user_id: str, event_id: str) -> UserView | None:
        """The user's view once the projector has applied `event_id` (bounded wait)."""
        mark = event_fingerprint(event_id)  # how the state remembers applied events
        deadline = time.monotonic() + max(self.gw.wait_s, 0.1)
        while True:
            view = await self.gw.views.user(user_id)
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

    def metric(self, key: str) -> str:
        if key not in self.gw.rules.metrics:
            raise ApiError(404, f"metric {key!r} not found")
        return key

    async def metrics(self, request: Request) -> JSON:
        view = await self.gw.user_view(request.path_params["id"])
        return JSON([api.metric_json(m, view, self.gw.rules) for m in self.gw.rules.metrics])

    async def metric_of(self, request: Request) -> JSON:
        metric = self.metric(request.path_params["key"])
        view = await self.gw.user_view(request.path_params["id"])
        return JSON(api.metric_json(metric, view, self.gw.rules))

    async def achievements(self, request: Request) -> JSON:
        incomplete = api.bool_param(
            request.query_params.get("includeIncomplete"), "includeIncomplete"
        )
        view = await self.gw.user_view(request.path_params["id"])
        done = view.achievements
        counts, users = await self.gw.views.completions(self.gw.rules.achievements)
        chosen = [a for a in self.gw.rules.achievements.values() if incomplete or a.key in done]
        chosen.sort(key=lambda a: (a.key not in done, done.get(a.key, 0)))
        return JSON(
            [
                api.user_with_stats(a, self.gw.rules, counts[a.key], users, done.get(a.key))
                for a in chosen
            ]
        )

    async def streak(self, request: Request) -> JSON:
        periods = api.int_param(
            request.query_params.get("historyPeriods"),
            "historyPeriods",
            api.DEFAULT_HISTORY_PERIODS,
            1,
            api.MAX_HISTORY_PERIODS,
        )
        view = await self.gw.user_view(request.path_params["id"])
        return JSON(api.streak_response(view, self.gw.rules, periods))

    async def preferences(self, request: Request) -> JSON:
        """GET /users/{id}/preferences; PATCH writes the notification channels it gives as a
        `UserIdentified` through the log, and answers once projected (or merged, if not)."""
        user_id = request.path_params["id"]
        if request.method == "GET":
            return JSON(api.preferences_json((await self.gw.user_view(user_id)).notifications))
        given = api.parse_preferences(await self.gw.body(request))
        view = await self.gw.user_view(user_id)
        if not given:  # nothing to change: nothing written
            return JSON(api.preferences_json(view.notifications))
        cmd = UserIdentified(
            event_id=self.gw.new_id(),
            time_ms=self.gw.clock(),
            user=User(id=user_id, notifications=given),
        )
        folded = await self.gw.publish_and_wait(cmd)
        projected = await self._projected(user_id, cmd.event_id) if folded else None
        if projected is None:
            return JSON(api.preferences_json({**view.notifications, **given}))
        return JSON(api.preferences_json(projected.notifications))

    async def metric_summary(self, request: Request) -> JSON:
        """GET /users/{id}/metrics/{key}/event-summary, from the view's kept days (the fold
        keeps the latest `[limits] metric_days` local days with a change, 400 by default)."""
        metric = self.metric(request.path_params["key"])
        aggregation, start, end = api.summary_params(request.query_params)
        view = await self.gw.user_view(request.path_params["id"])
        days = [
            KeptDay(d.day.toordinal(), d.added, d.total) for d in view.metric_days.get(metric, ())
        ]
        points = summarize(days, start, end, aggregation, self.gw.rules.week_start)
        return JSON(api.summary_json(points))
