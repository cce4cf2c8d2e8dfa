"""`podium`: the command line. The only reader of the settings: each subcommand builds, from
them, the narrow config of the process it runs (`*_config` below) and loads the rules, and
hands both to that process's composition root."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from deploy.local import StartError
from deploy.logs import configure
from deploy.settings import Settings
from deploy.stack import PodiumProcess, Stack, ensure_topics
from deploy.webhooks_cli import add_webhooks_command, webhooks_configured
from schemas.rules import Rules
from schemas.rules_parse import load_rules
from schemas.topics import BY_SHORT_NAME, Names

T = TypeVar("T")

if TYPE_CHECKING:
    from ingest.app import GatewayConfig
    from processors.projector import ProjectorConfig
    from processors.ranker import RankerConfig
    from processors.replay import ReplayConfig, Summary
    from processors.runtime.ops_server import OpsConfig
    from processors.ticker import TickConfig
    from processors.worker import WorkerConfig

Subcommand = Callable[[argparse.Namespace, Settings], int]


# the narrow configs, from the settings ------------------------------------------------------


def rules_of(settings: Settings) -> Rules:
    return load_rules(settings.rules_path)


def ops_config(settings: Settings, port: int) -> OpsConfig | None:
    """Where a process serves /metrics, /livez and /readyz (`port`: its own setting)."""
    from processors.runtime.ops_server import OpsConfig

    if not settings.metrics_enabled:
        return None
    return OpsConfig(
        settings.metrics_host,
        port,
        url_file=settings.metrics_url_file,
        live_poll_s=settings.live_poll_s,
        ready_lag_records=settings.ready_lag_records,
    )


def worker_config(settings: Settings) -> WorkerConfig:
    from processors.worker import WorkerConfig

    return WorkerConfig(
        settings.bootstrap,
        Names(settings.topic_prefix),
        session_timeout_ms=settings.worker_session_timeout_ms,
        transaction_timeout_ms=settings.transaction_timeout_ms,
        retry_backoff_ms=settings.transaction_retry_backoff_ms,
        worker_id=settings.worker_id,
        max_records=settings.worker_max_records,
        commit_interval_s=settings.worker_commit_interval_ms / 1000,
        awaited_commit_s=settings.worker_awaited_commit_ms / 1000,
        commit_bound=settings.worker_commit_bound,
        fence_backoff_s=settings.fence_backoff_s,
        blocked_retry_s=settings.worker_blocked_retry_s,
        ops=ops_config(settings, settings.worker_metrics_port),
    )


def ranker_config(settings: Settings) -> RankerConfig:
    """The ranking stage runs with a worker's settings (its own group and transactional id)
    and serves its metrics on its own port."""
    return dataclasses.replace(
        worker_config(settings), ops=ops_config(settings, settings.ranker_metrics_port)
    )


def replay_config(settings: Settings, strict: bool = False) -> ReplayConfig:
    from processors.replay import ReplayConfig

    return ReplayConfig(
        settings.bootstrap,
        Names(settings.topic_prefix),
        transaction_timeout_ms=settings.transaction_timeout_ms,
        strict=strict,
    )


def tick_config(settings: Settings) -> TickConfig:
    from processors.ticker import TickConfig

    return TickConfig(settings.bootstrap, Names(settings.topic_prefix))


def projector_config(settings: Settings) -> ProjectorConfig:
    from processors.projector import ProjectorConfig

    return ProjectorConfig(
        settings.bootstrap,
        Names(settings.topic_prefix),
        settings.redis,
        settings.views_prefix,
        ops=ops_config(settings, settings.projector_metrics_port),
    )


def gateway_config(settings: Settings) -> GatewayConfig:
    from ingest.app import GatewayConfig

    return GatewayConfig(
        settings.bootstrap,
        Names(settings.topic_prefix),
        settings.redis,
        views_prefix=settings.views_prefix,
        api_keys=tuple(settings.api_keys),
        api_key_tenants={h: tuple(t) for h, t in settings.api_key_tenants.items()},
        wait_s=settings.gateway_wait_s,
        rank_wait_s=settings.gateway_rank_wait_s,
        answer_host=settings.gateway_answer_host,
        answer_port=settings.gateway_answer_port,
        publish_timeout_s=settings.gateway_publish_timeout_s,
        max_body_bytes=settings.gateway_max_body_bytes,
        linger_ms=settings.gateway_linger_ms,
        rate_limit_per_s=settings.gateway_rate_limit_per_s,
        rate_limit_burst=settings.gateway_rate_limit_burst,
        ops=ops_config(settings, settings.gateway_metrics_port),
    )


# the local stack --------------------------------------------------------------------------


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """Start what is local; with PODIUM_KAFKA_BOOTSTRAP / PODIUM_REDIS_URL set, use those."""
    stack = Stack.local(settings)
    if settings.kafka_bootstrap is None:
        stack.kafka.start()
        for broker in stack.kafka.brokers:
            log = broker.home / "server.log"
            print(
                f"{broker.name:7} ready at {broker.bootstrap}  (node {broker.node_id}, log: {log})"
            )
    if settings.redis_url is None:
        stack.redis.start()
        print(f"redis  ready at {stack.redis.url}  (log: {stack.redis.log_file})")
    created = ensure_topics(settings)
    if created:
        print(f"topics created: {', '.join(created)}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Broker, Redis, worker, ranker, projector and gateway in the background, then the demo."""
    code = cmd_up(args, settings)
    if code:
        return code
    from deploy.demo import new_tenant, play
    from ingest.auth import hash_key, mint_key

    key_file = settings.run_dir / "gateway" / "demo-api-key"
    if key_file.exists():
        key = key_file.read_text().strip()
    else:
        key = mint_key()[0]
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
    hashes = ",".join([*settings.api_keys, hash_key(key)])
    env = {
        "PODIUM_KAFKA_BOOTSTRAP": settings.bootstrap,
        "PODIUM_REDIS_URL": settings.redis,
        "PODIUM_TOPIC_PREFIX": settings.topic_prefix,
        "PODIUM_RULES_PATH": str(settings.rules_path),
        "PODIUM_API_KEY_HASHES": hashes,
        "PODIUM_GATEWAY_PORT": str(settings.gateway_port),
    }
    stack = Stack.local(settings)
    hooks = stack.optional if webhooks_configured(settings) else ()
    for proc in (*stack.apps, *hooks):
        proc.start(env)
        print(f"{proc.name:9} running (pid {proc.pid()}, log: {proc.log_file})")
    if settings.metrics_enabled:  # the demo's first answers carry ranks: the ranker must be in
        for proc in stack.apps:
            if proc.name in ("worker", "ranker"):
                proc.wait_consuming()
    base = f"http://{settings.gateway_host}:{settings.gateway_port}"
    tenant = new_tenant()
    print(f"\ndemo through Trophy's Python SDK (book-writing platform), tenant {tenant}:")
    for line in play(base, key, tenant):
        print(line)
    print(f"\nPodium is running.\n  base URL: {base}/v1   (OpenAPI: {base}/v1/openapi.json)")
    print(f"  demo API key: {key}   (header X-API-KEY; kept in {key_file})")
    print(f"  demo tenant: {tenant}   (header Tenant-ID: each run of the demo has its own)")
    if webhooks_configured(settings):
        print(f"  webhooks: delivered to {settings.webhook_url or 'the configured endpoints'}")
    print(f"  live page: {base}/dashboard#key={key}&tenant={tenant}&user=ada")
    print("    (the part after # never leaves the browser; the page keeps the key in the tab's")
    print("    sessionStorage and sends it as X-API-KEY; without it the page asks for a key)")
    print("  `podium tail progress` shows what each event changes; `make down` stops it all.")
    return 0


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    stopped = Stack.local(settings).down()
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """What runs, and where each Podium process serves its metrics (/livez, /readyz beside)."""
    stack = Stack.local(settings)
    nodes = {broker.name: broker.node_id for broker in stack.kafka.brokers}
    for svc in stack.services:
        pid = svc.pid()
        port = f", port {svc.port}" if svc.port else ""  # the worker and projector serve none
        node = f", node {nodes[svc.name]}" if svc.name in nodes else ""
        url = svc.metrics_url() if pid and isinstance(svc, PodiumProcess) else None
        metrics = f", metrics {url}" if url else ""
        state = f"running (pid {pid}{port}{node}{metrics})" if pid else "stopped"
        print(f"{svc.name:9} {state}")
    return 0


# gateway ----------------------------------------------------------------------------------


GRACEFUL_SHUTDOWN_S = 5


def cmd_gateway(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the Trophy-compatible HTTP API (ingest.app) with uvicorn."""
    import uvicorn

    from ingest.app import create_app
    from ingest.server import bounded_http
    from processors.runtime.gc_tuning import tune_gc

    configure(settings.log_level, settings.log_format, "gateway")
    app = create_app(gateway_config(settings), rules_of(settings))
    tune_gc()  # the batch endpoint's objects (processors.runtime.gc_tuning)
    uvicorn.run(
        app,
        host=args.host or settings.gateway_host,
        port=args.port or settings.gateway_port,
        loop="uvloop",
        http=bounded_http(settings.gateway_max_url_bytes, settings.gateway_max_header_bytes),
        access_log=False,
        # a live page's event stream never ends by itself: on SIGTERM, wait this long for the
        # open requests, then close what is left (else a listening page would hold the stop)
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        log_level="warning",
        log_config=None,  # uvicorn's loggers go through the root handler `configure` set
    )
    return 0


def cmd_projector(args: argparse.Namespace, settings: Settings) -> int:
    """Keep the Redis views from the state changelog (processors.projector)."""
    from processors.projector import run_projector

    config, rules = projector_config(settings), rules_of(settings)
    return _serve(settings, lambda stop: run_projector(config, rules, stop), "projector")


def cmd_views(args: argparse.Namespace, settings: Settings) -> int:
    """`podium views rebuild`: clear the Redis views and rebuild them from Kafka."""
    from processors.projector import rebuild_views

    def show(done: int, total: int) -> None:
        print(f"\rrebuilding views: {done}/{total} state records", end="", flush=True)

    config, rules = projector_config(settings), rules_of(settings)
    read, written = run_async(rebuild_views(config, rules, show))
    print(f"\nviews rebuilt from {read} state records: {written} users written")
    return 0


def cmd_apikey(args: argparse.Namespace, settings: Settings) -> int:
    """Mint an API key; print it once, and the hash to put in PODIUM_API_KEY_HASHES."""
    from ingest.auth import mint_key

    key, digest = mint_key()
    print(f"API key (give it to the client, it is not stored): {key}")
    print(f"hash to configure:  PODIUM_API_KEY_HASHES={digest}")
    return 0


def cmd_send(args: argparse.Namespace, settings: Settings) -> int:
    """Send one metric event straight to podium.events (ingest.client)."""
    from ingest.client import EventClient
    from ingest.http.api import ApiError

    async def main() -> str:
        async with EventClient(
            settings.bootstrap, rules_of(settings), settings.topic_prefix
        ) as client:
            user = {"id": args.user, **({"tz": args.tz} if args.tz else {})}
            attrs = dict(a.split("=", 1) for a in args.attr or ())
            return await client.send(
                args.metric,
                user,
                float(args.value) if "." in args.value else int(args.value),
                attrs or None,
                args.idempotency_key,
            )

    try:
        event_id = run_async(main())
    except ApiError as exc:
        print(f"podium send: {exc.message}", file=sys.stderr)
        return 2
    print(f"sent event {event_id}")
    return 0


def cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    """Print a derived topic live, one readable line per record."""
    from deploy.tail import tail

    with contextlib.suppress(KeyboardInterrupt):
        run_async(tail(settings, args.topic, args.from_beginning, args.limit))
    return 0


def _serve(
    settings: Settings, main: Callable[[asyncio.Event], Awaitable[None]], process: str = "podium"
) -> int:
    """Run `main(stop)` until it returns; SIGTERM / SIGINT set `stop` (a graceful exit)."""
    configure(settings.log_level, settings.log_format, process)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    run_async(serve())
    return 0


def run_async(main: Coroutine[Any, Any, T]) -> T:
    """Every Podium process runs its asyncio code on uvloop (the gateway through uvicorn's
    "auto" loop, which picks uvloop too)."""
    import uvloop

    return uvloop.run(main)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run a stream worker (one member of the podium.worker consumer group)."""
    from processors.worker import run_worker

    config, rules = worker_config(settings), rules_of(settings)
    return _serve(settings, lambda stop: run_worker(config, rules, stop), "worker")


def cmd_ranker(args: argparse.Namespace, settings: Settings) -> int:
    """Run the ranking stage (one member of the podium.ranking consumer group)."""
    from processors.ranker import run_ranker

    config, rules = ranker_config(settings), rules_of(settings)
    return _serve(settings, lambda stop: run_ranker(config, rules, stop), "ranker")


def cmd_tick(args: argparse.Namespace, settings: Settings) -> int:
    """Write ClockTicked commands for users whose streak a tick would settle."""
    from processors.ticker import emit_ticks

    at_ms = args.at if args.at is not None else time.time_ns() // 1_000_000
    config, rules = tick_config(settings), rules_of(settings)

    async def main(stop: asyncio.Event) -> None:
        print(f"ticks written: {await emit_ticks(config, rules, at_ms)}")

    return _serve(settings, main, "tick")


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild all state from podium.events; publish only new facts, flagged backfilled.
    The workers must be stopped (the worker group empty): otherwise it exits 1, writing nothing.
    Every record it skips is counted and logged; with --strict any skip exits 1 (and when
    found before the hand-over, nothing is written)."""
    from deploy.replay_progress import RichProgress
    from processors.replay import SkippedRecords, run_replay
    from processors.runtime.handover import WorkersRunning
    from processors.runtime.kafka import Unsettled

    config, rules = replay_config(settings, args.strict), rules_of(settings)
    outcome: list[Summary] = []

    async def main(stop: asyncio.Event) -> None:
        with RichProgress() as progress:
            outcome.append(await run_replay(config, rules, progress=progress))
        print(_replayed(outcome[0]))
        if args.follow and not stop.is_set() and not (args.strict and outcome[0].skipped):
            from processors.worker import run_worker

            await run_worker(worker_config(settings), rules, stop)

    try:
        _serve(settings, main, "replay")
    except SkippedRecords as err:
        print(f"podium replay --strict: {err}", file=sys.stderr)
        return 1
    except WorkersRunning as err:
        print(f"podium replay: {err}", file=sys.stderr)
        return 1
    except Unsettled as err:  # a worker stopped uncleanly, with a longer transaction timeout
        print(
            f"podium replay: {err}; run it again once that transaction's timeout has passed",
            file=sys.stderr,
        )
        return 1
    return 1 if args.strict and outcome and outcome[0].skipped else 0


def _replayed(summary: Summary) -> str:
    skipped = summary.skipped.total()
    reasons = ", ".join(f"{n:,} {label}" for label, n in sorted(summary.skipped.items()))
    return (
        f"replayed {summary.events:,} events of {summary.users:,} users in "
        f"{summary.seconds:.1f} s: {summary.states_changed:,} states changed, "
        f"{summary.facts_backfilled:,} facts backfilled, "
        f"{summary.scores_backfilled:,} score changes backfilled, {skipped:,} records skipped"
        + (f" ({reasons})" if reasons else "")
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podium", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, tuple[Subcommand, str]] = {
        "up": (cmd_up, "start the local Kafka broker and Redis, create the topics"),
        "run": (cmd_run, "run Podium on the local stack"),
        "down": (cmd_down, "stop the local stack"),
        "status": (cmd_status, "show what of the local stack is running"),
        "worker": (cmd_worker, "run a stream worker: fold podium.events into state and records"),
        "ranker": (
            cmd_ranker,
            "run the ranking stage: rank podium.scores into podium.leaderboards",
        ),
        "tick": (cmd_tick, "settle inactive users' streaks: write ClockTicked commands"),
        "replay": (cmd_replay, "rebuild state from podium.events, backfill new facts once"),
    }
    for name, (func, help_text) in commands.items():
        cmd = sub.add_parser(name, help=help_text)
        cmd.set_defaults(func=func)
        if name == "tick":
            cmd.add_argument("--at", type=int, help="tick time, epoch ms (default: now)")
        if name == "replay":
            cmd.add_argument("--follow", action="store_true", help="then run as a worker")
            cmd.add_argument(
                "--strict", action="store_true", help="exit 1 if any record is skipped"
            )
    _gateway_commands(sub)
    add_webhooks_command(sub)
    return parser


def _gateway_commands(sub: Any) -> None:
    gw = sub.add_parser("gateway", help="serve the Trophy-compatible HTTP API")
    gw.add_argument("--host", default=None)
    gw.add_argument("--port", type=int, default=None)
    gw.set_defaults(func=cmd_gateway)
    sub.add_parser("projector", help="keep the Redis read views").set_defaults(func=cmd_projector)
    views = sub.add_parser("views", help="the Redis read views: `podium views rebuild`")
    views.add_argument("action", choices=["rebuild"])
    views.set_defaults(func=cmd_views)
    sub.add_parser("apikey", help="mint an API key and print its hash").set_defaults(
        func=cmd_apikey
    )
    send = sub.add_parser("send", help="send one event straight to podium.events")
    send.add_argument("metric")
    send.add_argument("user")
    send.add_argument("value")
    send.add_argument("--tz")
    send.add_argument("--attr", action="append", help="event attribute key=value")
    send.add_argument("--idempotency-key")
    send.set_defaults(func=cmd_send)
    tail = sub.add_parser("tail", help="print a topic live, one line per record")
    tail.add_argument("topic", choices=sorted(BY_SHORT_NAME))
    tail.add_argument("--from-beginning", action="store_true")
    tail.add_argument("--limit", type=int, default=0, help="stop after N records")
    tail.set_defaults(func=cmd_tail)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    try:
        code: int = args.func(args, settings)
    except StartError as err:
        print(f"podium: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
