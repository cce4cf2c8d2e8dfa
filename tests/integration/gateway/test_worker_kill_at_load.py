"""A kill -9 of the worker at 500 requests/s offered loses no 2xx'd event and doubles none:
an open-loop generator (the benchmark's, on raw keep-alive connections) posts 6,000 events
to 200 users through the gateway while the worker is SIGKILLed twice and restarted. Every
event answered 2xx (folded, or `pending` while no worker ran) has exactly one committed
progress, every folded answer (pushed by the worker before its commit) equals the answer
its committed progress renders to, and every user's committed total is the sum of the
values of that user's events in the log."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from decimal import Decimal

import orjson
import pytest

from ingest.http import api, api_points
from schemas.commands import MetricTracked, decode_command
from schemas.records import Progress, decode_record
from schemas.rules_parse import load_rules
from schemas.state import decode_state
from schemas.topics import Names
from tests.bench.bench_gateway import EVENT_PATH, open_loop
from tests.integration.gateway.conftest import RULES, WORKER, Podium, start_podium
from tests.integration.runtime.kafka_io import read_topic, wait_caught_up
from tests.sent import sent

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
RATE, SECONDS, USERS = 500, 12, 200


def body(i: int) -> bytes:
    return orjson.dumps({"user": {"id": f"u{i % USERS}"}, "value": 1 + i % 7})


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium-kill")
        # answers wait 1 s at most, so 600 connections carry 500 requests/s even while no
        # worker runs (each then holds its connection for the whole wait)
        pod = start_podium(kafka_bootstrap, redis_url, home, wait_s=1.0)
        stack.callback(pod.stop)
        yield pod


def flow_with_kills(podium: Podium) -> tuple[list[tuple[int, int, bytes]], dict[str, float]]:
    """Post at `RATE` for `SECONDS` while the worker is SIGKILLed twice and restarted, until
    the last worker caught up; each request's (index, status, answer), and the load figures."""
    addr = podium.base_url.removeprefix("http://").removesuffix("/v1")
    answers: list[tuple[int, int, bytes]] = []
    stats: dict[str, float] = {}

    def load() -> None:
        stats.update(
            asyncio.run(
                open_loop(addr, EVENT_PATH, podium.api_key, RATE, SECONDS, body, 600, answers)
            )
        )

    flow = threading.Thread(target=load)
    flow.start()
    worker = next(p for p in podium.procs if p.name == "worker")
    for n, at in enumerate((3.0, 4.0)):  # 3 s into the flow, then 4 s after the first kill
        time.sleep(at)
        worker.popen.kill()
        worker.popen.wait()
        worker = podium.spawn(f"worker-{n}", WORKER)  # a log of its own
    flow.join()
    worker.working()
    names = Names(podium.prefix)
    asyncio.run(wait_caught_up(podium.bootstrap, names.worker_group, names.events, within=90))
    return answers, stats


def totals(bootstrap: str, names: Names) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """Per user: the sum of the values of the logged events (answered or not), and the
    committed state's total."""
    want: dict[str, Decimal] = {}
    for recs in asyncio.run(read_topic(bootstrap, names.events)).values():
        for raw in recs:
            cmd = decode_command(raw.value)
            assert isinstance(cmd, MetricTracked)
            want[cmd.user.id] = want.get(cmd.user.id, Decimal(0)) + cmd.value
    states = {
        state.user_id: state
        for recs in asyncio.run(read_topic(bootstrap, names.state)).values()
        for raw in recs
        if (state := decode_state(raw.value))
    }
    return want, {uid: s.totals.get("words-written", Decimal(0)) for uid, s in states.items()}


def unlike_committed(folded: list[dict[str, object]], committed: dict[str, Progress]) -> list[str]:
    """The event ids of the folded answers that differ from what their committed progress
    renders to."""
    rules = load_rules(RULES)
    unlike = []
    for answer in folded:
        record = committed[str(answer["eventId"])]
        points = api_points.event_points(record.points, rules, record.time_ms)
        if answer != sent(api.event_response(record, rules, points)):
            unlike.append(record.event_id)
    return unlike


def test_a_worker_killed_at_500_per_s_loses_and_doubles_no_answered_event(
    podium: Podium,
) -> None:
    answers, stats = flow_with_kills(podium)
    names = Names(podium.prefix)
    assert len(answers) == RATE * SECONDS
    ok = [(i, orjson.loads(raw)) for i, status, raw in answers if 200 <= status < 300]
    assert len(ok) >= 0.99 * len(answers), Counter(status for _, status, _ in answers)
    committed = [
        rec
        for recs in asyncio.run(read_topic(podium.bootstrap, names.progress)).values()
        for raw in recs
        if isinstance(rec := decode_record(raw.value), Progress)
    ]
    progress = Counter(rec.event_id for rec in committed)
    assert max(progress.values()) == 1, "an event was applied twice"
    lost = [i for i, answer in ok if progress[answer["eventId"]] != 1]
    assert not lost, f"{len(lost)} answered events have no committed progress"
    folded = [answer for _, answer in ok if not answer.get("pending")]
    assert len(folded) >= 100, f"only {len(folded)} answers carried the progress"
    assert unlike_committed(folded, {rec.event_id: rec for rec in committed}) == []
    want, got = totals(podium.bootstrap, names)
    assert sum(want.values()) >= sum(1 + i % 7 for i, _ in ok)
    assert got == want  # every logged event folded once
    print(f"{len(ok):,} answered 2xx of {len(answers):,}, {len(folded):,} folded; {stats}")
