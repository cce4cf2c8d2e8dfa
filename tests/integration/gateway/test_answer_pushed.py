"""Answers leave at the fold: the worker pushes each event's progress to the gateway that
published it right after folding it, before its transaction commits, so a request can be
answered from a fold whose transaction a kill -9 of the worker then aborts. Events flow from
8 clients to 120 users while the worker is SIGKILLed and restarted until some answer came
from a transaction the kill aborted (the event's progress was aborted, and answered before
that kill; at most `MAX_KILLS`). Then: every aborted progress record is byte for byte the
committed one of the same event (the next owner redid it); every folded answer (201, not
`pending`) equals the answer the committed progress renders to; every event answered 201
(folded or pending) has exactly one committed progress: none lost, none counted twice."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any, NamedTuple

import httpx
import msgspec
import orjson
import pytest

from ingest.http import api, api_points
from processors.runtime import kafka
from schemas.records import Progress, decode_record
from schemas.rules_parse import load_rules
from schemas.topics import Names
from tests.integration.gateway.conftest import RULES, WORKER, Podium, start_podium

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]
CLIENTS, USERS = 8, 120
# A kill must land between a fold and its commit, which is a matter of chance: 12 kills once
# went by without one (2026-12-04).
MAX_KILLS = 25


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium-pushed")
        pod = start_podium(kafka_bootstrap, redis_url, home, wait_s=8.0)
        stack.callback(pod.stop)
        yield pod


def _progress(bootstrap: str, topic: str, isolation: str) -> dict[str, list[bytes]]:
    """Every progress record value up to the topic's end (the LSO read_committed), by event
    id, in log order."""
    parts = range(kafka.count_partitions(kafka.admin(bootstrap), topic))
    out: dict[str, list[bytes]] = {}
    committed = isolation == "read_committed"
    for batch in kafka.read_range(bootstrap, topic, parts, committed=committed):
        for rec in batch:
            if rec.value is not None:
                out.setdefault(orjson.loads(rec.value)["eventId"], []).append(rec.value)
    return out


def progress(pod: Podium, isolation: str) -> dict[str, list[bytes]]:
    return _progress(pod.bootstrap, Names(pod.prefix).progress, isolation)


def aborted_ids(pod: Podium) -> set[str]:
    """Event ids with more progress records read_uncommitted than read_committed."""
    seen, kept = progress(pod, "read_uncommitted"), progress(pod, "read_committed")
    return {e for e, recs in seen.items() if len(recs) > len(kept.get(e, []))}


class Answer(NamedTuple):
    sent: float  # monotonic seconds
    answered: float
    body: dict[str, Any]


def before_the_redo(answers: list[Answer], aborted: set[str], kills: list[float]) -> set[str]:
    """The aborted events answered before the first kill after they were sent: the record
    that kill aborted was the only one there (the redo comes after the restart), so the
    answer came from it."""
    return {
        a.body["eventId"]
        for a in answers
        if a.body["eventId"] in aborted
        and a.answered < min((k for k in kills if k > a.sent), default=float("inf"))
    }


def flow(pod: Podium, stop: threading.Event, answers: list[Answer], pending: list[str]) -> None:
    """Each client posts events one after another until `stop`; the folded 201 answers go
    to `answers`, the event ids of those answered pending to `pending`."""

    def client(n: int) -> None:
        rnd = random.Random(n)
        with httpx.Client(base_url=pod.base_url, headers={"X-API-KEY": pod.api_key}) as http:
            while not stop.is_set():
                body = {"user": {"id": f"u{rnd.randrange(USERS)}"}, "value": rnd.choice((5, 120))}
                sent = time.monotonic()
                try:
                    resp = http.post("/metrics/words-written/event", json=body, timeout=10)
                except httpx.HTTPError:
                    continue
                if resp.status_code != 201:
                    continue
                if resp.json().get("pending"):
                    pending.append(resp.json()["eventId"])
                else:
                    answers.append(Answer(sent, time.monotonic(), resp.json()))

    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))


def test_answers_pushed_before_the_commit_equal_the_committed_ones(podium: Podium) -> None:
    rules = load_rules(RULES)
    worker = next(p for p in podium.procs if p.name == "worker")
    answers: list[Answer] = []
    pending: list[str] = []
    stop = threading.Event()
    load = threading.Thread(target=flow, args=(podium, stop, answers, pending))
    load.start()
    rnd, kills, hit = random.Random(7), list[float](), set[str]()
    try:
        while len(kills) < MAX_KILLS and not hit:
            worker.working()
            time.sleep(rnd.uniform(1.0, 2.0))
            kills.append(time.monotonic())
            worker.popen.kill()  # SIGKILL: between a fold and its commit, some of the time
            worker.popen.wait()
            worker = podium.spawn(f"worker-{len(kills)}", WORKER)  # a log of its own
            hit = before_the_redo(answers, aborted_ids(podium), kills)
        worker.working()
        time.sleep(2.0)
    finally:
        stop.set()
        load.join()
    assert hit, f"no answer came from an aborted transaction in {len(kills)} kills"

    time.sleep(3.0)  # the last answers' transactions commit
    seen, kept = progress(podium, "read_uncommitted"), progress(podium, "read_committed")
    for event_id, records in seen.items():  # an aborted record is the committed one, redone
        committed = kept.get(event_id)
        assert committed and len(committed) == 1, (event_id, committed)
        assert set(records) == set(committed), event_id
    assert len(answers) > 20
    ids = Counter(a.body["eventId"] for a in answers) + Counter(pending)
    assert max(ids.values()) == 1
    assert all(len(kept.get(event_id, [])) == 1 for event_id in ids)  # counted once each
    for answer in answers:
        record = decode_record(kept[answer.body["eventId"]][0])
        assert isinstance(record, Progress)
        points = api_points.event_points(record.points, rules, record.time_ms)
        want = msgspec.json.decode(msgspec.json.encode(api.event_response(record, rules, points)))
        assert answer.body == want
    print(
        f"{len(kills)} kills; {len(answers)} folded answers, {len(pending)} pending; "
        f"{len(hit)} answered from a transaction a kill aborted"
    )
