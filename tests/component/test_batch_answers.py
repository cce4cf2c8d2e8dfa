"""The answers the fold lists for the worker to push (`Effects.answers`), no broker: each
event whose record names its gateway (`podium-answer`) has exactly the bytes of its
`podium.progress` record listed with that address (its `Progress`, or the `EventRefused`
of a dead-lettered command whose event id is known); a record without the header (`podium
send`, replay) and one whose event id is unknown list nothing."""

from __future__ import annotations

from dataclasses import dataclass

from processors.runtime.batch import fold_batch
from processors.runtime.store import StateStore
from schemas.records import EventRefused, Progress, decode_record
from schemas.rules import Rules
from schemas.topics import PROGRESS
from tests.component.test_batch import PARTITION, T0, TOPIC, metric


@dataclass(frozen=True)
class HeadedRec:
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


def to(address: str) -> tuple[tuple[str, bytes], ...]:
    return (("podium-answer", address.encode()),)


def test_each_event_that_names_its_gateway_has_its_progress_listed(rules: Rules) -> None:
    batch = [
        HeadedRec(10, b"ann", metric("e-0", "ann", "3", T0), to("gw-a:7001")),
        HeadedRec(11, b"bob", metric("e-1", "bob", "4", T0 + 1), ()),  # podium send
        HeadedRec(12, b"ann", b"{nope", to("gw-a:7001")),  # dead, no event id: no answer
        HeadedRec(13, b"bob", metric("e-3", "bob", "5", T0 + 2), to("gw-b:7002")),
        HeadedRec(14, b"ann", metric("e-4", "ann", "1", T0 + 3, name="pages"), to("gw-a:7001")),
        HeadedRec(15, b"ann", metric("e-5", "ann", "1", T0 + 4), to("gw-a:7001")),
    ]
    out = fold_batch(StateStore(), batch, rules, TOPIC, PARTITION)

    written = {}
    for _, raw in out.derived[PROGRESS]:
        record = decode_record(raw)
        assert isinstance(record, Progress | EventRefused)
        written[record.event_id] = raw
    assert sorted(written) == ["e-0", "e-1", "e-3", "e-4", "e-5"]
    assert out.answers == [
        ("gw-a:7001", written["e-0"]),
        ("gw-b:7002", written["e-3"]),
        ("gw-a:7001", written["e-4"]),  # the unknown metric's refusal
        ("gw-a:7001", written["e-5"]),
    ]
    answered = [decode_record(raw) for _, raw in out.answers]
    assert [(p.event_id, p.total) for p in answered if isinstance(p, Progress)] == [
        ("e-0", 3),
        ("e-3", 9),  # bob's 4 (not answered: no header) and 5
        ("e-5", 4),  # ann's 3 and 1: the refused event counted nothing
    ]
    refused = answered[2]
    assert isinstance(refused, EventRefused) and "metric" in refused.reason
    assert len(out.dead) == 2


def test_records_from_elsewhere_without_headers_list_no_answers(rules: Rules) -> None:
    @dataclass(frozen=True)
    class Bare:  # replay's and the tests' records have no headers attribute at all
        offset: int
        key: bytes | None
        value: bytes | None

    out = fold_batch(
        StateStore(), [Bare(0, b"ann", metric("e-0", "ann", "3", T0))], rules, TOPIC, PARTITION
    )
    assert out.events == 1 and out.answers == []


def test_the_score_changes_of_an_event_whose_gateway_waits_for_ranks_name_it() -> None:
    """The score changes of an event whose gateway waits for its ranks (`podium-ranks`)
    carry the answer header naming it (the ranking stage pushes their ranks there); those
    of an event answered without ranks, or not answered, carry no header."""
    from schemas.leaderboards import ScoreChanged, decode_leaderboard_record
    from tests.rules import leaderboard_rules

    ranked = (*to("gw-a:7001"), ("podium-ranks", b"gw-a:7001"))
    batch = [
        HeadedRec(20, b"ann", metric("e-0", "ann", "3", T0, "words"), ranked),
        HeadedRec(21, b"bob", metric("e-1", "bob", "4", T0 + 1, "words"), ()),
        HeadedRec(22, b"cy", metric("e-2", "cy", "5", T0 + 2, "words"), to("gw-b:7002")),
    ]
    out = fold_batch(StateStore(), batch, leaderboard_rules(), TOPIC, PARTITION)

    named: dict[str, set[object]] = {}
    for items in out.scores.values():
        for _, raw, headers in items:
            change = decode_leaderboard_record(raw)
            assert isinstance(change, ScoreChanged)
            named.setdefault(change.event_id, set()).add(
                None if headers is None else tuple(headers)
            )
    assert named == {"e-0": {to("gw-a:7001")}, "e-1": {None}, "e-2": {None}}
    assert [address for address, _ in out.answers] == ["gw-a:7001", "gw-b:7002"]
