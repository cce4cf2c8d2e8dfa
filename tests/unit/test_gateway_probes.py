"""The gateway's probes (ingest.telemetry.GatewayProbes), asked from another thread as the ops
server asks them: /readyz runs the /ready checks on the gateway's event loop and names what is
down, says no when the loop does not answer in time; /livez follows the loop's heartbeat."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Mapping

import pytest

from ingest.telemetry import GatewayProbes
from processors.runtime.health import Heartbeat


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    running = asyncio.new_event_loop()
    thread = threading.Thread(target=running.run_forever, daemon=True)
    thread.start()
    yield running
    running.call_soon_threadsafe(running.stop)
    thread.join()
    running.close()


def test_readiness_runs_the_checks_on_the_loop(loop: asyncio.AbstractEventLoop) -> None:
    state = {"kafka": True, "progress": True, "redis": False}
    ran_on: list[asyncio.AbstractEventLoop] = []

    async def checks() -> Mapping[str, bool]:
        ran_on.append(asyncio.get_running_loop())
        return dict(state)

    probes = GatewayProbes(Heartbeat(), loop, checks)
    verdict = probes.ready()
    assert not verdict.ok and verdict.reason == "not ready: redis unavailable"
    assert ran_on == [loop]
    state["redis"] = True
    assert probes.ready().ok


def test_a_loop_that_does_not_answer_is_not_ready(loop: asyncio.AbstractEventLoop) -> None:
    async def slow() -> Mapping[str, bool]:
        await asyncio.sleep(5)
        return {}

    verdict = GatewayProbes(Heartbeat(), loop, slow, answer_within_s=0.1).ready()
    assert not verdict.ok and "over 0.1 s" in verdict.reason


def test_liveness_follows_the_heartbeat(loop: asyncio.AbstractEventLoop) -> None:
    now = [100.0]
    heart = Heartbeat(lambda: now[0])

    async def checks() -> Mapping[str, bool]:
        return {}

    probes = GatewayProbes(heart, loop, checks, live_s=30)
    now[0] = 130.0
    assert probes.live().ok
    now[0] = 130.5
    verdict = probes.live()
    assert not verdict.ok and "30.5 s" in verdict.reason
