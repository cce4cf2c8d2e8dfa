"""Prometheus series of the gateway, served on its own metrics port with /livez and /readyz
(`processors.runtime.ops_server`, started in `ingest.app.create_app`'s lifespan): each
request's duration by route template, method and status (`TimedRequests`, the outermost ASGI
layer, so refusals of the API-key guard count too), the answer's wait, the events published,
and what each catch-all handler in `ingest` caught, so a failure that is retried or answered
500 still shows as a number. No label takes a user id or any other unbounded value."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from processors.runtime.health import Heartbeat, Verdict
from processors.runtime.ops_server import OpsConfig, operated

SUPERVISOR_ERRORS = Counter(
    "podium_gateway_supervisor_errors_total",
    "Steps of the gateway's Kafka producer supervisor that failed (it retries a second later)",
)
PRODUCER_CLOSE_ERRORS = Counter(
    "podium_gateway_producer_close_errors_total",
    "Replaced or stopped gateway producers that did not close cleanly",
)
INTERNAL_ERRORS = Counter(
    "podium_gateway_internal_errors_total",
    "Requests answered 500 because of an unhandled error",
)
REQUEST_SECONDS = Histogram(
    "podium_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10),
)
ANSWER_WAIT = Histogram(
    "podium_answer_wait_seconds",
    "Time an event's request waited, once the broker acknowledged the event, for the worker's "
    "answer: `answered` when it came (refusals too), `pending` when the wait ran out",
    ["outcome"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
PUBLISHED = Counter(
    "podium_events_published_total",
    "Events written to podium.events by requests: `ok` acknowledged by the broker, `refused` "
    "not recorded (too large, broker unreachable: 413, 503), `failed` sent but not "
    "acknowledged in time, so may or may not be recorded (504)",
    ["outcome"],
)
# the children the hot path uses, bound once (a `labels` lookup takes a lock each time)
ANSWERED, PENDING = ANSWER_WAIT.labels("answered"), ANSWER_WAIT.labels("pending")
PUBLISHED_OK = PUBLISHED.labels("ok")
PUBLISHED_REFUSED, PUBLISHED_FAILED = PUBLISHED.labels("refused"), PUBLISHED.labels("failed")
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
UNROUTED = "unrouted"  # refused before routing (API key, tenant, rate limit) or no route


class TimedRequests:
    """Observes each HTTP request's duration in `podium_http_request_duration_seconds`,
    labelled with its route's template (`/v1/users/{id}/metrics`), never the path itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.templates: dict[str, str] = {}
        self.children: dict[tuple[str, str, int], Any] = {}  # bounded as the labels are

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless an answer starts

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.child(scope, status).observe(time.perf_counter() - started)

    def child(self, scope: Scope, status: int) -> Any:
        """The histogram's child for the request's route template, method and status."""
        method = scope["method"] if scope["method"] in METHODS else "other"
        route = self.template(scope.get("route"))
        key = (route, method, status)
        found = self.children.get(key)
        if found is None:
            found = self.children[key] = REQUEST_SECONDS.labels(route, method, str(status))
        return found

    def template(self, route: Any) -> str:
        """The route's path template with its convertors dropped (`{id:segment}` → `{id}`)."""
        path = getattr(route, "path", None)
        if not isinstance(path, str):
            return UNROUTED
        found = self.templates.get(path)
        if found is None:
            found = self.templates[path] = re.sub(r":[A-Za-z_]+}", "}", path)
        return found


@dataclass
class GatewayProbes:
    """/livez: the event loop turns (`heartbeat`); /readyz: the checks of the API port's
    /ready (Kafka, the answer listener, Redis), run on the loop from the probe's thread."""

    heartbeat: Heartbeat
    loop: asyncio.AbstractEventLoop
    checks: Callable[[], Awaitable[Mapping[str, bool]]]
    live_s: float = 30.0
    answer_within_s: float = 2.0

    def live(self) -> Verdict:
        silent = self.heartbeat.clock() - self.heartbeat.last
        if silent > self.live_s:
            return Verdict(False, f"the event loop has not turned for {silent:.1f} s")
        return Verdict(True, f"the event loop turned {silent:.1f} s ago")

    def ready(self) -> Verdict:
        future = asyncio.run_coroutine_threadsafe(_checked(self.checks), self.loop)
        try:
            checks = future.result(timeout=self.answer_within_s)
        except TimeoutError:
            future.cancel()
            return Verdict(False, f"the checks took over {self.answer_within_s:g} s")
        down = [name for name, ok in checks.items() if not ok]
        if down:
            return Verdict(False, f"not ready: {', '.join(down)} unavailable")
        return Verdict(True, "ready: " + ", ".join(checks))


async def _checked(
    checks: Callable[[], Awaitable[Mapping[str, bool]]],
) -> Mapping[str, bool]:
    return await checks()


@contextlib.asynccontextmanager
async def serving_ops(
    config: OpsConfig | None, checks: Callable[[], Awaitable[Mapping[str, bool]]]
) -> AsyncIterator[None]:
    """The gateway's /metrics, /livez and /readyz on its metrics port (none without config);
    `checks` are its readiness's (`ingest.app.ready_checks`)."""
    async with operated(config, "gateway", "", sample=False) as ops:
        if ops.server is not None and config is not None:
            ops.server.probes = GatewayProbes(
                ops.heartbeat, asyncio.get_running_loop(), checks, live_s=config.live_poll_s
            )
        yield
