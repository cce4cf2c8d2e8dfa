"""The runner's per-partition queues (`processors.runtime.backlog.Backlog`): records come out
in offset order, each once, none below the owner's committed position, at most `most` at a
time; a partition is to be paused once it holds more than the limit (once, not at every put)
and resumed only when its queue has been emptied; a discarded partition is neither queued
nor resumed, and starts again from the position it is given."""

from __future__ import annotations

from dataclasses import dataclass

from processors.runtime.backlog import Backlog


@dataclass(frozen=True)
class Rec:
    offset: int


def recs(*offsets: int) -> list[Rec]:
    return [Rec(o) for o in offsets]


def test_records_come_out_in_order_at_most_most_at_a_time() -> None:
    backlog: Backlog[Rec] = Backlog()
    backlog.put(1, recs(10, 11, 12), position=10, limit=100)
    backlog.put(1, recs(13, 14), position=10, limit=100)
    assert backlog.take(1, 2) == (recs(10, 11), False)
    assert backlog.take(1, 2) == (recs(12, 13), False)
    assert backlog.take(1, 2) == (recs(14), False)
    assert backlog.take(1, 2) == ([], False)


def test_partitions_are_queued_apart() -> None:
    backlog: Backlog[Rec] = Backlog()
    backlog.put(0, recs(0), position=0, limit=100)
    backlog.put(5, recs(7, 8), position=7, limit=100)
    backlog.put(0, recs(1), position=0, limit=100)
    assert backlog.take(5, 10) == (recs(7, 8), False)
    assert backlog.take(0, 10) == (recs(0, 1), False)


def test_what_is_committed_or_queued_already_is_not_queued_again() -> None:
    backlog: Backlog[Rec] = Backlog()
    backlog.put(3, recs(4, 5, 6, 7), position=6, limit=100)  # 4 and 5 are committed
    backlog.put(3, recs(6, 7, 8, 9), position=6, limit=100)  # a stale fetch from 6 again
    assert backlog.take(3, 10) == (recs(6, 7, 8, 9), False)
    backlog.put(
        3, recs(8, 9, 10), position=6, limit=100
    )  # taken but not committed yet: still skipped
    assert backlog.take(3, 10) == (recs(10), False)


def test_pause_once_over_the_limit_resume_once_emptied() -> None:
    backlog: Backlog[Rec] = Backlog()
    assert backlog.put(2, recs(0, 1, 2), position=0, limit=3) is False  # at the limit, not over it
    assert backlog.put(2, recs(3), position=0, limit=3) is True  # 4 > 3: pause
    assert (
        backlog.put(2, recs(4, 5), position=0, limit=3) is False
    )  # already paused: no second pause
    assert backlog.take(2, 3) == (recs(0, 1, 2), False)  # 3 still queued: stays paused
    assert backlog.take(2, 3) == (recs(3, 4, 5), True)  # emptied: resume
    assert backlog.put(2, recs(6), position=0, limit=3) is False
    assert backlog.take(2, 3) == (recs(6), False)  # was not paused: nothing to resume


def test_a_discarded_partition_keeps_nothing_and_is_not_resumed() -> None:
    backlog: Backlog[Rec] = Backlog()
    assert backlog.put(7, recs(5, 6), position=5, limit=1) is True
    backlog.discard(7)  # lost or blocked: the runner paused it for its own reason
    assert backlog.take(7, 10) == ([], False)
    # retaken at the committed offset 5: the same records are queued again
    assert backlog.put(7, recs(5, 6), position=5, limit=1) is True
    assert backlog.take(7, 10) == (recs(5, 6), True)
