"""Trophy's Node SDK (`@trophyso/node` 1.0.42, tests/node/) against the real stack: the
worker, `podium ranker`, the projector and the gateway as processes on the real broker and
Redis, rules `tests/rules/node.toml`. `tests/node/every_operation.js` calls every operation
the SDK has (it finds them by walking the client) and fails naming any whose answer the SDK
cannot parse; this test runs it, asserts it passed, and checks figures of its answers
against values worked out by hand below from its events and the rules file. The Python
SDK's admin batch (`admin.metrics.batch_events`) goes through the same stack.

The script's writes, in order (every user in UTC, so one day and one weekly run): ann (plan
pro, so the `forever` boost doubles her points) writes 120 words with genre poetry, bob
(plan free) 100, cy 30, ann 5 with the idempotency key "ann-5", the same again (a replay),
then bob completes `published`. By the rules:
- words: ann 125, bob 100, cy 30 (the replay counts nothing);
- xp: `per-10-words` fires once per whole 10 words, `streak-of-one` when the streak reaches
  1 (the first event of the day), `published` gives 50. bob 10 + 2 + 50 = 62; ann (each
  firing doubled) 12 x 2 + 2 x 2 = 28 (her 5 more words reach no new multiple of 10);
  cy 3 + 2 = 5. bob's first event takes him from 0 to 12 points, past `writer` (10);
- every streak is 1 (one day, threshold 1 word), so the active streak ranking is a tie,
  ordered by user id;
- ann completes `first-words` (1 word), `poet` (10 words, genre poetry, plan pro) and
  `on-a-roll` (streak 1); `published` is bob's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from trophy.types import BatchMetricEvent, BatchMetricEventUser

from deploy.settings import REPO_DIR
from tests.integration.gateway.conftest import Podium, eventually, start_podium
from tests.rules import NODE_PATH

pytestmark = pytest.mark.integration
NODE_DIR = REPO_DIR / "tests" / "node"
NO_CAP = 2**31 - 1  # docs/trophy-conformance.md: `maxParticipants` of a board without a cap
WORDS = {"ann": 125, "bob": 100, "cy": 30}
XP = {"bob": 62, "ann": 28, "cy": 5}
# the SDK's operations (1.0.42, read from its api/resources/*/client/Client.d.ts): 24 of the
# application API, 2 of the admin API (which Podium does not serve: the script expects 404)
OPERATIONS = [
    *("achievements.all", "achievements.complete", "metrics.event"),
    *("users.create", "users.get", "users.identify", "users.update"),
    *("users.getPreferences", "users.updatePreferences", "users.allMetrics"),
    *("users.singleMetric", "users.metricEventSummary", "users.achievements", "users.streak"),
    *("users.points", "users.pointsEventSummary", "users.leaderboard", "users.wrapped"),
    *("streaks.list", "streaks.rankings", "points.summary", "points.system"),
    *("leaderboards.all", "leaderboards.get"),
    *("admin.streaks.restore", "admin.streaks.freezes.create"),
]


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium-node")
        # a generous wait: each event's answer waits for the ranker's rank changes too
        pod = start_podium(kafka_bootstrap, redis_url, home, rules=NODE_PATH, wait_s=15.0)
        stack.callback(pod.stop)
        pod.start_ranker()
        yield pod
        pod.check_alive()


@pytest.fixture(scope="module")
def node_run(podium: Podium) -> dict[str, Any]:
    """The script's run against the stack: its exit status asserted, its report parsed."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not on PATH: install Node.js 18 or later to run Trophy's Node SDK")
    if not (NODE_DIR / "node_modules" / "@trophyso" / "node").is_dir():
        pytest.fail("tests/node/node_modules is missing: run `make install` (npm ci in tests/node)")
    env = {**os.environ, "PODIUM_BASE_URL": podium.base_url, "PODIUM_API_KEY": podium.api_key}
    done = subprocess.run(
        [node, "every_operation.js"],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_every_operation_parses(node_run: dict[str, Any]) -> None:
    assert node_run["failures"] == []
    assert sorted(node_run["operations"]) == sorted(OPERATIONS)


def test_event_answers_carry_every_part(node_run: dict[str, Any]) -> None:
    answers = node_run["answers"]
    ann = answers["metrics.event ann 120"]
    assert ann["total"] == 120
    assert {a["id"] for a in ann["achievements"]} == {"first-words", "poet", "on-a-roll"}
    assert (ann["currentStreak"]["length"], ann["currentStreak"]["extended"]) == (1, True)
    assert (ann["points"]["xp"]["added"], ann["points"]["xp"]["total"]) == (28, 28)
    assert ann["leaderboards"]["top-writers"]["maxParticipants"] == NO_CAP
    assert ann["leaderboards"]["weekly-top-two"]["maxParticipants"] == 2
    bob = answers["metrics.event bob 100"]
    assert (bob["points"]["xp"]["total"], bob["points"]["xp"]["level"]["key"]) == (12, "writer")
    assert (bob["leaderboards"]["top-writers"]["rank"], bob["total"]) == (2, 100)
    assert answers["metrics.event ann 5 again"]["idempotentReplayed"] is True
    assert answers["metrics.event ann 5 again"]["total"] == 125


def test_reads_carry_the_figures_worked_out_by_hand(node_run: dict[str, Any]) -> None:
    answers = node_run["answers"]
    words = answers["leaderboards.get top-writers"]["rankings"]
    assert [(r["userId"], r["rank"], r["value"]) for r in words] == [
        ("ann", 1, WORDS["ann"]),
        ("bob", 2, WORDS["bob"]),
        ("cy", 3, WORDS["cy"]),
    ]
    capped = answers["leaderboards.get weekly-top-two"]
    assert [r["userId"] for r in capped["rankings"]] == ["ann", "bob"]
    xp = answers["leaderboards.get top-xp"]["rankings"]
    assert [(r["userId"], r["value"]) for r in xp] == sorted(XP.items(), key=lambda p: -p[1])
    caps = {b["key"]: b["maxParticipants"] for b in answers["leaderboards.all"]}
    assert caps == {
        "top-writers": NO_CAP,
        "weekly-top-two": 2,
        "top-xp": NO_CAP,
        "longest-streak": NO_CAP,
    }
    assert [m["status"] for m in answers["users.allMetrics"]] == ["active"]
    assert answers["users.singleMetric"]["current"] == WORDS["bob"]
    assert answers["users.points"]["total"] == XP["bob"]
    done = {a["id"] for a in answers["users.achievements"] if a.get("achievedAt")}
    assert done == {"first-words", "poet", "on-a-roll"}


def test_streak_rankings_tie_by_user_id_with_names(node_run: dict[str, Any]) -> None:
    answers = node_run["answers"]
    assert answers["streaks.rankings active"] == [
        {"userId": "ann", "name": "Ann", "streakLength": 1},
        {"userId": "bob", "name": "Bob", "streakLength": 1},
        {"userId": "cy", "streakLength": 1},  # no name: null, which the SDK leaves out
    ]
    assert [r["userId"] for r in answers["streaks.rankings longest 2"]] == ["ann", "bob"]


def test_the_python_sdks_admin_batch(podium: Podium) -> None:
    """`admin.metrics.batch_events` posts a bare array to `/admin/v1/metrics/events`; its
    events are counted like any (under a tenant of their own, apart from the script's)."""
    trophy = podium.trophy(tenant="batch-co")
    events = [
        BatchMetricEvent(key="words-written", user=BatchMetricEventUser(id="dee"), value=40),
        BatchMetricEvent(key="words-written", user=BatchMetricEventUser(id="eli"), value=7),
        BatchMetricEvent(
            key="words-written",
            user=BatchMetricEventUser(id="dee", name="Dee"),
            value=2.5,
            idempotency_key="dee-1",
        ),
    ]
    assert trophy.admin.metrics.batch_events(request=events).accepted == 3

    def counted() -> None:
        assert trophy.users.single_metric("dee", "words-written").current == 42.5
        assert trophy.users.single_metric("eli", "words-written").current == 7
        assert trophy.users.get("dee").name == "Dee"

    eventually(counted, within=20)
