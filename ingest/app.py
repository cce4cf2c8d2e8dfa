"""The gateway's composition root: `podium gateway` serves `create_app(config, rules)` with
uvicorn (the CLI builds the `GatewayConfig` from the settings).

Writes to `podium.events` (each event that waits names this gateway's answer listener), takes
the answers the workers and the ranks the ranking stage push to that listener
(`ingest.answers`), reads the Redis views; while a live page listens
(`/dashboard`, `ingest.routes_dashboard`), also the fact topics and `podium.leaderboards` for
its feed (`ingest.feed`, `ingest.live`). The whole HTTP surface is on this screen: the routes,
the API-key guard, the error shape (`{"error": "..."}` for every failure) and the lifespan that
starts the Kafka parts.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ingest import telemetry
from ingest.answers import AnswerListener, ProgressWaiter, RankWaiter
from ingest.auth import KeyRing
from ingest.feed import LiveFeed, NoFacts
from ingest.http.api import ApiError, tenant_id, user_id_param
from ingest.kafka import Publisher
from ingest.live import PipelineProbe, TopicFacts
from ingest.openapi import openapi_document
from ingest.ports import Pipeline
from ingest.ratelimit import Limit, RateLimiter, retry_after
from ingest.routes import JSON, Gateway, error
from ingest.routes_achievements import AchievementRoutes
from ingest.routes_dashboard import PAGE_PATHS, DashboardRoutes
from ingest.routes_events import EventRoutes
from ingest.routes_leaderboards import LeaderboardRoutes
from ingest.routes_points import PointsRoutes
from ingest.routes_streaks import StreakRoutes
from ingest.routes_users import UserRoutes
from ingest.routes_wrapped import WrappedRoutes
from ingest.tenancy import TENANT, tenant_of
from ingest.views import ViewReader
from processors.runtime.ops_server import OpsConfig
from schemas.answers import RANKS_HEADER, answer_header
from schemas.rules import Rules
from schemas.topics import Names
from schemas.views import Keys

log = logging.getLogger("podium.gateway")
OPEN_PATHS = frozenset(("/health", "/ready", "/v1/openapi.json", *PAGE_PATHS))
Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """What the gateway process needs (built from the settings by the CLI)."""

    bootstrap: str
    names: Names
    redis_url: str
    views_prefix: str = "podium:"
    api_keys: Sequence[str] = ()  # SHA-256 hashes (hex) of the accepted API keys
    # key hash -> the tenants it may act for ("" the default tenant); a key not here: any
    api_key_tenants: Mapping[str, Sequence[str]] = field(default_factory=dict)
    wait_s: float = 2.0
    rank_wait_s: float = 1.0  # of `wait_s`, the most spent waiting for ranks
    answer_host: str = "127.0.0.1"  # the answer listener's (ingest.answers): workers connect
    answer_port: int = 0  # 0: a free port
    publish_timeout_s: float = 5.0
    max_body_bytes: int = 1_048_576
    linger_ms: int = 2
    rate_limit_per_s: float = 0.0  # requests per second per API key (0: no limit)
    rate_limit_burst: float = 0.0  # bucket size (0: one second's worth)
    ops: OpsConfig | None = None  # /metrics, /livez, /readyz on a port of their own


class SegmentConvertor(Convertor[str]):
    """A path segment that may hold '/' and '%': `with_segments` keeps them escaped in the
    routed path (as %2F and %25), and this turns them back, so a user id such as "a/b" (sent
    as a%2Fb) is addressable instead of landing on another route."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return value.replace("%2F", "/").replace("%25", "%")

    def to_string(self, value: str) -> str:
        return value.replace("%", "%25").replace("/", "%2F")


register_url_convertor("segment", SegmentConvertor())


def with_segments(scope: Scope) -> Scope:
    """The scope with its path decoded segment by segment from the raw path when the raw path
    escapes a '/' or a '%' (the server decodes %2F into a separator before routing). Changed
    in place: the router notes the matched route in this scope, which `TimedRequests` reads."""
    raw: bytes = scope.get("raw_path") or b""
    lowered = raw.lower()
    if b"%2f" not in lowered and b"%25" not in lowered:
        return scope
    segments = (
        unquote(part).replace("%", "%25").replace("/", "%2F")
        for part in raw.split(b"?", 1)[0].decode("latin-1").split("/")
    )
    scope["path"] = "/".join(segments)
    return scope


class RequireApiKey:
    """401 in Trophy's shape unless X-API-KEY matches a configured hash, then 429 with
    Retry-After when the key is over its rate limit, if one is set (pure ASGI). The request
    it passes on runs as its `Tenant-ID` header's tenant (`ingest.tenancy`)."""

    def __init__(self, app: ASGIApp, keys: KeyRing, limiter: RateLimiter | None = None) -> None:
        self.app = app
        self.keys = keys
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope = with_segments(scope)
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        presented = None
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                presented = value.decode("latin-1")
                break
        refused = self.refusal(presented)
        if refused is None:
            try:
                tenant = tenant_id(tenant_of(scope["headers"]))
            except ApiError as exc:
                refused = error(exc.status, exc.message)
            else:
                refused = self.tenant_refusal(presented, tenant)
        if refused is not None:
            await refused(scope, receive, send)
            return
        token = TENANT.set(tenant)
        try:
            await self.app(scope, receive, send)
        finally:
            TENANT.reset(token)

    def tenant_refusal(self, presented: str | None, tenant: str | None) -> Response | None:
        """403 when the key is limited to tenants and `tenant` is not one of them."""
        allowed = self.keys.tenants(presented or "")
        if allowed is None or (tenant or "") in allowed:
            return None
        what = f"tenant {tenant[:64]!r}" if tenant else "the default tenant (no Tenant-ID)"
        return error(403, f"this API key may not act for {what}")

    def refusal(self, presented: str | None) -> Response | None:
        """401 for a missing or unknown key, 429 for a key over its rate limit; else None."""
        if not self.keys.check(presented):
            what = "missing X-API-KEY header" if presented is None else "invalid API key"
            return error(401, what)
        if self.limiter is not None and presented is not None:
            wait = self.limiter.check(presented)
            if wait:
                limit = self.limiter.limit
                message = (
                    f"rate limit exceeded: {limit.per_s:g} requests per second per API key "
                    f"(bursts of {limit.burst:g}); retry after {wait:.2f} s"
                )
                return error(429, message, {"Retry-After": retry_after(wait)})
        return None


def guarded(handler: Handler) -> Handler:
    """Turn `ApiError` into its `{"error": ...}` answer."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as exc:
            return error(exc.status, exc.message, exc.headers)

    return run


def with_user_id(handler: Handler) -> Handler:
    """Refuse a user id in the path that no body could carry (over 255 characters, or holding
    U+0000): a write is 422, a read 404 (no such user can exist; Trophy's document has such
    an id valid, so 422 would be a valid request refused)."""

    async def run(request: Request) -> Response:
        try:
            user_id_param(request.path_params["id"], "user id in the path")
        except ApiError as exc:
            if request.method != "GET":
                raise
            raise ApiError(404, f"user not found: {exc.message}") from None
        return await handler(request)

    return run


def routes(gw: Gateway) -> list[Route]:
    def r(path: str, handler: Handler, *methods: str) -> Route:
        if "{id}" in path:
            path = path.replace("{id}", "{id:segment}")  # a user id may hold '/' (SegmentConvertor)
            handler = with_user_id(handler)
        return Route("/v1" + path, guarded(handler), methods=list(methods))

    events, users, streaks = EventRoutes(gw), UserRoutes(gw), StreakRoutes(gw)
    pts, boards = PointsRoutes(gw), LeaderboardRoutes(gw)
    return [
        r("/metrics/events", events.track_batch, "POST"),
        r("/metrics/{key}/event", events.track, "POST"),
        r("/achievements/{key}/complete", events.complete, "POST"),
        r("/achievements", AchievementRoutes(gw).achievements, "GET"),
        r("/streaks", streaks.lengths, "GET"),
        r("/streaks/rankings", streaks.rankings, "GET"),
        r("/users", users.identify, "POST"),
        r("/users/{id}", users.user, "GET", "PUT", "PATCH"),
        r("/users/{id}/metrics", users.metrics, "GET"),
        r("/users/{id}/metrics/{key}", users.metric_of, "GET"),
        r("/users/{id}/achievements", users.achievements, "GET"),
        r("/users/{id}/streak", users.streak, "GET"),
        r("/users/{id}/points/{key}", pts.user_points, "GET"),
        r("/users/{id}/points/{key}/event-summary", pts.user_summary, "GET"),
        r("/users/{id}/points/{key}/boosts", pts.user_boosts, "GET"),
        r("/points/{key}", pts.get_system, "GET"),
        r("/points/{key}/summary", pts.summary, "GET"),
        r("/points/{key}/levels", pts.levels, "GET"),
        r("/points/{key}/level-summary", pts.level_summary, "GET"),
        r("/points/{key}/boosts", pts.boosts, "GET"),
        r("/leaderboards", boards.all, "GET"),
        r("/leaderboards/{key}", boards.get, "GET"),
        r("/users/{id}/leaderboards/{key}", boards.user_board, "GET"),
        r("/users/{id}/preferences", users.preferences, "GET", "PATCH"),
        r("/users/{id}/metrics/{key}/event-summary", users.metric_summary, "GET"),
        r("/users/{id}/wrapped", WrappedRoutes(gw).wrapped, "GET"),
    ]


ADMIN_BASE = "/admin/v1"  # Trophy's admin API (its SDK's `environment.admin`)


def admin_routes(gw: Gateway) -> list[Route]:
    """Trophy's admin batch (`POST /admin/v1/metrics/events`, the SDKs'
    `admin.metrics.batch_events`: a bare array of events, answered `{"accepted": n}`), the
    same publish as `POST /v1/metrics/events`; every other path under `/admin/v1` is a 404
    saying where Podium keeps what Trophy's admin API edits."""

    async def unserved(request: Request) -> Response:
        return error(
            404,
            f"no such admin endpoint: {request.method} {request.url.path}; Podium's metrics, "
            "achievements and streak rules live in the rules file (PODIUM_RULES_PATH), "
            "not behind an admin API",
        )

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    return [
        Route(
            ADMIN_BASE + "/metrics/events", guarded(EventRoutes(gw).track_batch), methods=["POST"]
        ),
        Route(ADMIN_BASE, unserved, methods=methods),
        Route(ADMIN_BASE + "/{rest:path}", unserved, methods=methods),
    ]


def dashboard_routes(page: DashboardRoutes) -> list[Route]:
    """The live page (`ingest.routes_dashboard`): the page and its files are open (they hold
    no data), its reads need the API key like every other request."""
    base = "/dashboard"
    return [
        Route(base, page.page, methods=["GET"]),
        *(Route(path, page.asset, methods=["GET"]) for path in PAGE_PATHS if path != base),
        Route(base + "/api/overview", guarded(page.overview), methods=["GET"]),
        Route(base + "/api/health", guarded(page.health), methods=["GET"]),
        Route(base + "/api/feed", guarded(page.stream), methods=["GET"]),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own 404 and 405 in Trophy's error shape, naming the method and path."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error(404, f"no such endpoint: {request.method} {request.url.path}")
    if exc.status_code == 405:
        return error(405, f"method {request.method} not allowed on {request.url.path}", exc.headers)
    return error(exc.status_code, str(exc.detail), exc.headers)


async def _internal(request: Request, exc: Exception) -> Response:
    telemetry.INTERNAL_ERRORS.inc()
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error(500, "internal error")


async def _health(request: Request) -> JSON:
    return JSON({"status": "ok"})


async def _ready(gw: Gateway, request: Request) -> JSON:
    # `views` is not a readiness condition: while the projector rebuilds the views, writes
    # are taken and reads answer 503; `podium run`'s demo waits for it (deploy/demo.py)
    checks = await gw.checks()
    views = checks.pop("views")
    down = [name for name, ok in checks.items() if not ok]
    if down:
        return JSON(
            {"error": f"not ready: {', '.join(down)} unavailable", **checks, "views": views},
            503,
            headers={"Retry-After": "1"},
        )
    return JSON({"status": "ready", **checks, "views": views})


def build_app(
    gw: Gateway,
    keys: KeyRing,
    lifespan: Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]] | None = None,
    *,
    limiter: RateLimiter | None = None,
    feed: LiveFeed | None = None,
    pipeline: Pipeline | None = None,
    timed: bool = True,
) -> ASGIApp:
    """The app over `gw`'s ports; the live page's feed and pipeline probe when given (else a
    feed that never shows a fact, and no pipeline in its health)."""
    document = openapi_document(gw.rules)
    page = DashboardRoutes(gw, feed or LiveFeed(NoFacts(), gw.rules), pipeline)

    async def openapi(request: Request) -> JSON:
        return JSON(document)

    app = Starlette(
        routes=[
            Route("/health", _health),
            Route("/ready", functools.partial(_ready, gw)),
            Route("/v1/openapi.json", openapi),
            *routes(gw),
            *admin_routes(gw),
            *dashboard_routes(page),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _internal},
        lifespan=lifespan,
    )
    # no 307 to the path without its trailing slash: Trophy documents no redirect
    app.router.redirect_slashes = False
    guarded_app = RequireApiKey(app, keys, limiter)
    return telemetry.TimedRequests(guarded_app) if timed else guarded_app


async def ready_checks(gw: Gateway) -> dict[str, bool]:
    """What the gateway's readiness follows (its /ready, and /readyz on the metrics port):
    `Gateway.checks` without the views' completeness."""
    checks = await gw.checks()
    del checks["views"]
    return checks


def rate_limiter(config: GatewayConfig) -> RateLimiter | None:
    """The per-key rate limit, when one is set."""
    if config.rate_limit_per_s <= 0:
        return None
    per_s = config.rate_limit_per_s
    return RateLimiter(Limit(per_s, config.rate_limit_burst or max(1.0, per_s)))


def _warn_without_keys(config: GatewayConfig) -> None:
    if not config.api_keys:
        log.warning(
            "no API key hashes configured (PODIUM_API_KEY_HASHES): every request "
            "but /health and /ready will be refused"
        )


def create_app(config: GatewayConfig, rules: Rules) -> ASGIApp:
    """The gateway process: Kafka producer, answer listener, Redis, the routes."""
    publisher = Publisher(
        config.bootstrap,
        config.names.events,
        timeout_s=config.publish_timeout_s,
        linger_ms=config.linger_ms,
    )
    waiter = ProgressWaiter()
    # ranks are pushed only to a gateway that waits for them (`RANKS_HEADER`)
    ranks = RankWaiter() if rules.leaderboards and config.rank_wait_s > 0 else None
    listener = AnswerListener(waiter, config.answer_host, config.answer_port, ranks)
    redis = Redis.from_url(config.redis_url, decode_responses=False)
    gw = Gateway(
        rules,
        publisher,
        waiter,
        ViewReader(redis, Keys(config.views_prefix)),
        ranks=ranks,
        wait_s=config.wait_s,
        rank_wait_s=config.rank_wait_s,
        max_body=config.max_body_bytes,
    )
    feed = LiveFeed(TopicFacts(config.bootstrap, config.names), rules)
    _warn_without_keys(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        await publisher.start()
        await listener.start()
        publisher.answer_to = [answer_header(listener.address)]
        if ranks is not None:
            publisher.answer_to.append(answer_header(listener.address, RANKS_HEADER))
        try:
            async with telemetry.serving_ops(config.ops, lambda: ready_checks(gw)):
                yield
        finally:
            await feed.stop()
            await listener.stop()  # and releases the requests still waiting
            await publisher.stop()
            await redis.aclose()

    keys = KeyRing(config.api_keys, config.api_key_tenants)
    pipeline = PipelineProbe(config.bootstrap, config.names)
    timed = config.ops is not None
    limiter = rate_limiter(config)
    return build_app(gw, keys, lifespan, limiter=limiter, feed=feed, pipeline=pipeline, timed=timed)
