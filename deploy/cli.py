"""`podium`: the command line. Each subcommand builds the settings at the edge and hands them to
the composition root of the process it runs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

from deploy.local import StartError
from deploy.settings import Settings
from deploy.stack import Stack, ensure_topics

Command = Callable[[argparse.Namespace, Settings], int]


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """Start what is local; with PODIUM_KAFKA_BOOTSTRAP / PODIUM_REDIS_URL set, use those."""
    stack = Stack.local(settings)
    if settings.kafka_bootstrap is None:
        stack.kafka.start()
        print(f"kafka  ready at {stack.kafka.bootstrap}  (log: {stack.kafka.home / 'server.log'})")
    if settings.redis_url is None:
        stack.redis.start()
        print(f"redis  ready at {stack.redis.url}  (log: {stack.redis.log_file})")
    created = ensure_topics(settings)
    if created:
        print(f"topics created: {', '.join(created)}")
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    code = cmd_up(args, settings)
    print("Podium's local stack is up; `make down` stops it.")
    return code


def cmd_down(args: argparse.Namespace, settings: Settings) -> int:
    stopped = Stack.local(settings).down()
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    stack = Stack.local(settings)
    for svc in stack.services:
        pid = svc.pid()
        state = f"running (pid {pid}, port {svc.port})" if pid else "stopped"
        print(f"{svc.name:6} {state}")
    return 0


def _serve(settings: Settings, main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run `main(stop)` until it returns; SIGTERM / SIGINT set `stop` (a graceful exit)."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.root.level))

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(serve())
    return 0


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    """Run a stream worker (one member of the podium.worker consumer group)."""
    from processors.worker import run_worker

    return _serve(settings, lambda stop: run_worker(settings, stop))


def cmd_tick(args: argparse.Namespace, settings: Settings) -> int:
    """Write ClockTicked commands for users whose streak a tick would settle."""
    from processors.ticker import emit_ticks

    at_ms = args.at if args.at is not None else time.time_ns() // 1_000_000

    async def main(stop: asyncio.Event) -> None:
        print(f"ticks written: {await emit_ticks(settings, at_ms)}")

    return _serve(settings, main)


def cmd_replay(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild all state from podium.events; publish only new facts, flagged backfilled."""
    from processors.replay import run_replay
    from processors.replay_progress import RichProgress

    async def main(stop: asyncio.Event) -> None:
        with RichProgress() as progress:
            summary = await run_replay(settings, progress=progress)
        print(
            f"replayed {summary.events:,} events of {summary.users:,} users in "
            f"{summary.seconds:.1f} s: {summary.states_changed:,} states changed, "
            f"{summary.facts_backfilled:,} facts backfilled"
        )
        if args.follow and not stop.is_set():
            from processors.worker import run_worker

            await run_worker(settings, stop)

    return _serve(settings, main)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podium", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    commands: dict[str, tuple[Command, str]] = {
        "up": (cmd_up, "start the local Kafka broker and Redis, create the topics"),
        "run": (cmd_run, "run Podium on the local stack"),
        "down": (cmd_down, "stop the local stack"),
        "status": (cmd_status, "show what of the local stack is running"),
        "worker": (cmd_worker, "run a stream worker: fold podium.events into state and records"),
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
    return parser


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
