"""The storm test's reading of the workers' logs (`tests/integration/runtime/rebalance.py`),
on logs written by hand."""

from __future__ import annotations

from datetime import datetime

from tests.integration.runtime.rebalance import gaps, rounds

W1 = """\
2026-12-07 06:00:00,000 INFO podium.runtime: took partitions [0, 1, 2]: 10 users restored in 0.10 s
2026-12-07 06:00:10,000 INFO podium.runtime: revoked partitions [0, 1, 2]
2026-12-07 06:00:12,500 INFO podium.runtime: took partitions [0, 1]: 7 users restored in 0.10 s
2026-12-07 06:00:20,000 WARNING podium.runtime: partitions [1]: uncommitted work dropped, taken
2026-12-07 06:00:23,000 INFO podium.runtime: took partitions [1]: 3 users restored in 0.10 s
2026-12-07 06:00:31,000 WARNING podium.runtime: lost partitions [0]
2026-12-07 06:00:32,000 INFO podium.runtime: took partitions [0]: 4 users restored in 0.10 s
"""
W2 = """\
2026-12-07 06:00:13,000 INFO podium.runtime: took partitions [2]: 3 users restored in 0.10 s
"""


def at(clock: str) -> float:
    return datetime.fromisoformat(f"2026-12-07T{clock}").timestamp()


def test_gaps_run_from_a_revoke_or_a_loss_to_the_next_take_by_anyone() -> None:
    found = gaps({"w1": W1, "w2": W2}, {})
    assert [(g.partition, g.seconds) for g in found] == [
        (0, 2.5),
        (1, 2.5),
        (2, 3.0),
        (1, 3.0),
        (0, 1.0),
    ]


def test_a_stopped_worker_serves_until_it_was_stopped_and_rounds_group_by_start() -> None:
    found = gaps({"w1": W1, "w2": W2}, {"w1": at("06:00:40")})
    asked = [
        (at("06:00:09"), "w2 joins"),
        (at("06:00:19"), "w1 fails"),
        (at("06:00:30"), "w1 lost"),
    ]
    assert [(r.after, len(r.gaps), r.longest) for r in rounds(found, asked)] == [
        ("w2 joins", 3, 3.0),
        ("w1 fails", 1, 3.0),
        ("w1 lost", 1, 1.0),
    ]
    # served until it was stopped: no gap after 06:00:40 however long the test ran
    assert max(g.end for g in found) == at("06:00:32")
