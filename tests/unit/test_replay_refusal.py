"""What `podium replay` says when the worker group has members: who, what to do, and what it
handed over already (a member found before partition 3's commit: partitions 0..2)."""

from __future__ import annotations

from processors.runtime.handover import WorkersRunning


def test_the_refusal_names_the_members_and_says_what_to_do() -> None:
    said = str(WorkersRunning("t.podium.worker", ["podium@10.0.0.7"]))
    assert said == (
        "the worker group t.podium.worker has 1 member(s) (podium@10.0.0.7): stop every "
        "`podium worker` (and any `podium replay --follow`), run `podium replay` again, then "
        "start the workers; nothing was handed over"
    )


def test_a_refusal_mid_way_says_which_partitions_were_handed_over() -> None:
    said = str(WorkersRunning("g", ["a@h", "b@h"], handed_over=3))
    assert "has 2 member(s) (a@h, b@h)" in said
    done = "partitions 0..2 were handed over (a new replay finds their facts emitted)"
    assert said.endswith(f"start the workers; {done}")
