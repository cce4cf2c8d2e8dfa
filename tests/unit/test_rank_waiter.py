"""The gateway's rank waiter (ingest.answers.RankWaiter): records are handed to `take` as the
answer listener does, encoded by the records' own codec."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import msgspec

from ingest.answers import RankWaiter
from schemas.leaderboards import (
    RankChanged,
    ScoreChanged,
    decode_leaderboard_record,
    encode_leaderboard_record,
    rank_cause,
)
from tests.rules import leaderboard_rules
from tests.unit.fold_helpers import Run


def rank(event_id: str, board: str, user: str = "ada", crosser: str | None = None) -> bytes:
    cause = f"ada:score:{board}:all::{event_id}"
    return encode_leaderboard_record(
        RankChanged(
            id=f"{cause}:rank" if crosser is None else f"{cause}:rank:{crosser}",
            cause=cause,
            board=board,
            run="all",
            group="",
            user_id=user if crosser is None else crosser,
            time_ms=1,
            previous_rank=None,
            rank=1,
            previous_value=None,
            value=Decimal(5),
            reached_ms=1,
            participants=1,
        )
    )


async def test_the_ranks_of_a_registered_event_are_collected_and_others_ignored() -> None:
    waiter = RankWaiter()
    waiter.expect("e1")
    waiter.take(rank("e1", "words"))
    waiter.take(rank("e1", "words", crosser="ben"))  # pushed off a capped board: not asked
    waiter.take(rank("e2", "words"))  # another process's event
    score = "ada:score:words:all::e1"
    got = await waiter.ranks("e1", [f"{score}:rank"], within_s=1.0)
    assert list(got) == [f"{score}:rank"]
    assert got[f"{score}:rank"].user_id == "ada"
    assert await waiter.ranks("e2", ["ada:score:words:all::e2:rank"], within_s=0.01) == {}


async def test_a_rank_that_arrives_while_waiting_wakes_the_request() -> None:
    waiter = RankWaiter()
    waiter.expect("e1")
    ids = ["ada:score:words:all::e1:rank", "ada:score:xp:all::e1:rank"]
    task = asyncio.create_task(waiter.ranks("e1", ids, within_s=5.0))
    await asyncio.sleep(0)
    waiter.take(rank("e1", "words"))
    await asyncio.sleep(0)
    assert not task.done()  # one of two
    waiter.take(rank("e1", "xp"))
    got = await asyncio.wait_for(task, 1.0)
    assert sorted(got) == sorted(ids)


async def test_a_late_ranking_stage_gives_what_arrived_in_time() -> None:
    waiter = RankWaiter()
    waiter.expect("e1")
    waiter.take(rank("e1", "words"))
    ids = ["ada:score:words:all::e1:rank", "ada:score:xp:all::e1:rank"]
    got = await waiter.ranks("e1", ids, within_s=0.05)
    assert list(got) == ids[:1]
    waiter.forget("e1")
    assert waiter._pending == {}


def test_the_folds_score_change_ids_end_with_their_event_id() -> None:
    """What the waiter's match relies on: the fold's ScoreChanged ids (the causes) end with
    ":" and the event id, for a breakdown group and a user id with a colon too."""
    run = Run(leaderboard_rules(), user="team:7")
    run.track("2025-03-05T12:00", 2, "chapters", event_id="0123abcd", plan="pro", region="eu")
    changes = [r for r in run.records if isinstance(r, ScoreChanged)]
    assert changes and any(c.group for c in changes)
    assert {c.id.rpartition(":")[2] for c in changes} == {"0123abcd"}


def test_the_cause_read_without_decoding_is_the_records_or_none() -> None:
    """`rank_cause` finds the field in the bytes (the waiter skips the ranks nobody waits
    for undecoded): the record's own cause, for a user id with a colon; None where the cause
    holds an escape (a quote), so that the waiter decodes that one."""

    plain = rank("e1", "words")
    assert rank_cause(plain) == "ada:score:words:all::e1"
    colon = encode_leaderboard_record(
        msgspec.structs.replace(
            decode_leaderboard_record(plain), cause="team:7:score:words:all::e2", user_id="team:7"
        )
    )
    assert rank_cause(colon) == "team:7:score:words:all::e2"
    quoted = msgspec.structs.replace(decode_leaderboard_record(plain), cause='a"b::e3')
    assert rank_cause(encode_leaderboard_record(quoted)) is None
    assert rank_cause(b'{"type":"rank"}') is None


async def test_a_rank_nobody_waits_for_is_skipped_and_an_escaped_cause_is_decoded() -> None:
    waiter = RankWaiter()
    waiter.expect("e3")
    cause = 'a"b:score:words:all::e3'
    quoted = msgspec.structs.replace(
        decode_leaderboard_record(rank("e3", "words")), id=f"{cause}:rank", cause=cause
    )
    waiter.take(encode_leaderboard_record(quoted))
    waiter.take(rank("e9", "words"))  # nobody waits
    got = await waiter.ranks("e3", [f"{cause}:rank"], within_s=0.01)
    assert list(got) == [f"{cause}:rank"]
    assert set(waiter._pending) == {"e3"}
