"""Where the worker's fold sends its records: the changelog and the facts to the input's
partition number, the progress to `podium.progress`' own count (the input's partition modulo
it), so a transaction writes one progress partition however many input partitions it commits."""

from __future__ import annotations

import pytest

from processors.runtime.outbox import Outbox
from processors.runtime.stages import Rec, WorkerStage
from schemas.records import Progress, decode_record
from schemas.rules import Rules
from tests.component.kafka_fakes import NAMES
from tests.component.test_batch import T0, metric


def fold_one_user_per_partition(stage: WorkerStage, partitions: range) -> Outbox:
    """One event of a user of its own on each input partition (the 4th unlocks an
    achievement of the writing rules: 1,000 words), folded into one outbox."""
    out = Outbox()
    for p in partitions:
        stage.restore(p, {})
        value = metric(f"e-{p}", f"u{p}", "1000", T0 + p)
        stage.fold(p, [Rec(0, f"u{p}".encode(), value)], out)
    return out


@pytest.mark.parametrize(
    ("progress_partitions", "expected"),
    [
        # input partition -> progress partition, by hand: p mod the count
        (1, {0: 0, 1: 0, 2: 0, 3: 0, 4: 0, 5: 0}),
        (4, {0: 0, 1: 1, 2: 2, 3: 3, 4: 0, 5: 1}),
        (6, {0: 0, 1: 1, 2: 2, 3: 3, 4: 4, 5: 5}),
    ],
)
def test_the_progress_goes_to_the_input_partition_modulo_its_count(
    rules: Rules, progress_partitions: int, expected: dict[int, int]
) -> None:
    stage = WorkerStage(NAMES, rules, 4, progress_partitions)
    out = fold_one_user_per_partition(stage, range(6))
    progress = {}
    for topic, partition, key, value, _ in out.produced():
        if topic == NAMES.progress:
            answer = decode_record(value or b"")
            assert isinstance(answer, Progress)
            progress[answer.event_id] = (key, partition)
    assert progress == {f"e-{p}": (f"u{p}".encode(), q) for p, q in expected.items()}


def test_the_changelog_and_the_facts_stay_on_the_input_partition(rules: Rules) -> None:
    stage = WorkerStage(NAMES, rules, 4, 1)
    out = fold_one_user_per_partition(stage, range(6))
    aligned = {NAMES.state, NAMES.achievements, NAMES.streaks, NAMES.points}
    placed = {
        (topic, key, partition)
        for topic, partition, key, _, _ in out.produced()
        if topic in aligned
    }
    users = {(f"u{p}".encode(), p) for p in range(6)}
    assert {(k, p) for t, k, p in placed if t == NAMES.state} == users
    facts = {(k, p) for t, k, p in placed if t != NAMES.state}
    assert facts and facts <= users  # the writing rules make facts of 1,000 words
