"""`podium replay` with a new points trigger and a new points system, the worker with the
new rules stopped around it while events flow: history's awards of the new ones are
published once, flagged backfilled, in facts that carry only awards never emitted before; no
award appears twice; for the users with no event while the replay ran, the facts' `added`
add up to the rebuilt state's totals; a second replay adds nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import orjson
import pytest

from schemas.records import PointsChanged, decode_record
from schemas.rules_parse import load_rules
from schemas.state import decode_state
from schemas.topics import Names
from tests.integration.runtime.conftest import RULES_PATH
from tests.integration.runtime.kafka_io import feed, produce, read_topic, wait_caught_up
from tests.integration.runtime.oracle import fold_log, latest_by_key, metric_events
from tests.integration.runtime.test_replay import replay, replay_between

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
NEW_TRIGGER = """
[[points.triggers]]
key = "per-chapter-bonus"
type = "metric"
metric = "chapters-finished"
threshold = 2
points = 7
"""
NEW_SYSTEM = """
[[points]]
key = "stars"
name = "Stars"
[[points.triggers]]
key = "per-1000-words"
type = "metric"
metric = "words-written"
threshold = 1000
points = 1
"""


def _with_new_points(text: str) -> str:
    """The rules with a trigger added to the xp system (it precedes "coins") and a new
    system at the end."""
    at = text.index('[[points]]\nkey = "coins"')
    return text[:at] + NEW_TRIGGER + "\n" + text[at:] + NEW_SYSTEM


async def _points(bootstrap: str, names: Names) -> list[PointsChanged]:
    return [
        rec
        for recs in (await read_topic(bootstrap, names.points)).values()
        for raw in recs
        if isinstance(rec := decode_record(raw.value), PointsChanged)
    ]


async def test_replay_with_a_new_points_trigger_and_system_backfills_awards_once(
    kafka_bootstrap: str, names: Names, spawn, worker_env, tmp_path: Path
) -> None:
    new_rules_path = tmp_path / "rules.toml"
    new_rules_path.write_text(_with_new_points(RULES_PATH.read_text()))
    new_rules = load_rules(new_rules_path)
    assert "per-chapter-bonus" in {t.key for t in new_rules.points["xp"].triggers}
    assert "stars" in new_rules.points
    new_env = {**worker_env, "PODIUM_RULES_PATH": str(new_rules_path)}
    first, more = metric_events(8_000, 300, seed=41), metric_events(4_000, 150, seed=42)
    await produce(kafka_bootstrap, names.events, first)
    old_worker = spawn("worker")
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)
    old_worker.stop()
    new_worker = spawn("worker", env=new_env)
    flow = asyncio.create_task(feed(kafka_bootstrap, names.events, more, chunk=1_000))
    (_, changed, backfilled), new_worker = await replay_between(spawn, new_worker, new_env)
    await flow
    await wait_caught_up(kafka_bootstrap, names.worker_group, names.events, within=90)

    expected = fold_log(await read_topic(kafka_bootstrap, names.events), new_rules)
    states = latest_by_key(await read_topic(kafka_bootstrap, names.state))
    assert states == expected.states
    facts = await _points(kafka_bootstrap, names)
    awards = Counter(a.id for f in facts for a in f.awards)
    assert awards and awards.most_common(1)[0][1] == 1, "an award was published twice"
    want = {a["id"] for raw in expected.points for a in orjson.loads(raw)["awards"]}
    assert want <= set(awards)
    quiet = {f"u{i}" for i in range(150, 300)}  # `more` has events for u0..u149 only
    assert {a for a in awards if a.split(":")[0] in quiet} == {
        a for a in want if a.split(":")[0] in quiet
    }
    flagged = [f for f in facts if f.backfilled]
    assert len(flagged) == backfilled > 0 and changed > 0
    for fact in flagged:  # only the new trigger's and the new system's awards are backfilled
        assert all(
            a.trigger == "per-chapter-bonus" or fact.system == "stars" for a in fact.awards
        ), fact
        assert fact.added == sum(a.points for a in fact.awards)
    added: Counter[tuple[str, str]] = Counter()
    for fact in {f.id: f for f in facts}.values():
        added[(fact.user_id, fact.system)] += fact.added
    for uid, raw in states.items():
        for key, system in decode_state(raw).points.items():
            if uid in quiet:
                assert added[(uid, key)] == system.total, (uid, key)

    new_worker.stop()
    assert (await replay(new_env))[1:] == (0, 0)
    assert len(await _points(kafka_bootstrap, names)) == len(facts)
