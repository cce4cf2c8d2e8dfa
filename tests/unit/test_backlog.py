"""The runner's per-partition queues (`processors.runtime.backlog.Backlog`): records come out
in the order they were put, at most `most` at a time; a partition is to be paused once it
holds more than the limit (once, not at every put) and resumed only when its queue has been
emptied; a discarded partition is neither queued nor resumed."""

from __future__ import annotations

from processors.runtime.backlog import Backlog


def test_records_come_out_in_order_at_most_most_at_a_time() -> None:
    backlog: Backlog[int] = Backlog(limit=100)
    backlog.put(1, [10, 11, 12])
    backlog.put(1, [13, 14])
    assert backlog.take(1, 2) == ([10, 11], False)
    assert backlog.take(1, 2) == ([12, 13], False)
    assert backlog.take(1, 2) == ([14], False)
    assert backlog.take(1, 2) == ([], False)


def test_partitions_are_queued_apart() -> None:
    backlog: Backlog[str] = Backlog(limit=100)
    backlog.put(0, ["a0"])
    backlog.put(5, ["b0", "b1"])
    backlog.put(0, ["a1"])
    assert backlog.take(5, 10) == (["b0", "b1"], False)
    assert backlog.take(0, 10) == (["a0", "a1"], False)


def test_pause_once_over_the_limit_resume_once_emptied() -> None:
    backlog: Backlog[int] = Backlog(limit=3)
    assert backlog.put(2, [0, 1, 2]) is False  # at the limit, not over it
    assert backlog.put(2, [3]) is True  # 4 > 3: pause
    assert backlog.put(2, [4, 5]) is False  # already paused: no second pause
    assert backlog.take(2, 3) == ([0, 1, 2], False)  # 3 still queued: stays paused
    assert backlog.take(2, 3) == ([3, 4, 5], True)  # emptied: resume
    assert backlog.put(2, [6]) is False
    assert backlog.take(2, 3) == ([6], False)  # was not paused: nothing to resume


def test_a_discarded_partition_keeps_nothing_and_is_not_resumed() -> None:
    backlog: Backlog[int] = Backlog(limit=1)
    assert backlog.put(7, [0, 1]) is True
    backlog.discard(7)  # lost or blocked: the runner paused it for its own reason
    assert backlog.take(7, 10) == ([], False)
    assert backlog.put(7, [2, 3]) is True  # owned again, over the limit again: a new pause
    assert backlog.take(7, 10) == ([2, 3], True)
