"""When an outbox is due for its commit: the commit interval after its first entry, or the
awaited interval after the first record a request waits on (a score change naming the gateway
that waits for its rank), whichever comes first; a record without headers waits on nothing."""

from __future__ import annotations

import time

from processors.runtime.outbox import Outbox

RANKS = [("podium-answer", b"127.0.0.1:7001")]


def test_an_outbox_nobody_waits_on_is_due_one_interval_after_its_first_entry() -> None:
    box = Outbox()
    box.advance(0, 5, 5, now=100.0)
    box.add_headed("podium.scores", 3, [(b"board", b"change", None)])
    assert box.awaited == 0.0
    assert box.due_at(interval_s=0.1, awaited_s=0.02) == 100.1


def test_a_waited_on_record_makes_it_due_the_awaited_interval_after_it() -> None:
    box = Outbox()
    now = time.monotonic()
    box.advance(0, 5, 5, now=now)
    before = time.monotonic()
    box.add_headed("podium.scores", 3, [(b"board", b"change", RANKS)])
    after = time.monotonic()
    assert before <= box.awaited <= after
    assert box.due_at(interval_s=30.0, awaited_s=0.02) == box.awaited + 0.02
    first = box.awaited
    box.add_headed("podium.scores", 3, [(b"board", b"later", RANKS)])
    assert box.awaited == first  # the first waiter sets the time
    # an interval that ends sooner still wins
    assert box.due_at(interval_s=0.001, awaited_s=30.0) == now + 0.001
