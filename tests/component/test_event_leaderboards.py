"""`EventResponse.leaderboards` over fakes: the gateway waits for the rank changes the
ranking stage made of the event (named by the event's Progress) and renders each board the
event moved the user on, in Trophy's `MetricEventLeaderboardResponse` shape. Rules:
tests/rules/leaderboards.toml (weeks from Sunday; a monthly board broken down by plan and
region, 2025-01-31 to 2025-06-30; a weekly board capped at three)."""

from __future__ import annotations

from decimal import Decimal

from trophy.types import AchievementCompletionResponse, EventResponse

from schemas.leaderboards import RankChanged
from schemas.records import AchievementCompleted, Progress
from schemas.rules_parse import parse_rules
from schemas.values import replace
from tests.component.fakes import NOW_MS, FakeRanks, Stack
from tests.rules import LEADERBOARDS_PATH, leaderboard_rules

EVENT = "/metrics/words/event"
BODY = {"user": {"id": "u1"}, "value": 5}


def score_id(board: str, run: str, group: str = "") -> str:
    return f"u1:score:{board}:{run}:{group}:ev-1"


def moved(board: str, run: str, group: str = "", **fields: object) -> RankChanged:
    cause = score_id(board, run, group)
    base: dict[str, object] = {
        "id": f"{cause}:rank",
        "cause": cause,
        "board": board,
        "run": run,
        "group": group,
        "user_id": "u1",
        "time_ms": NOW_MS,
        "previous_rank": None,
        "rank": 1,
        "previous_value": None,
        "value": Decimal(5),
        "reached_ms": NOW_MS,
        "participants": 1,
    }
    return RankChanged(**{**base, **fields})  # type: ignore[arg-type]


def progress(*scores: str) -> Progress:
    return Progress(
        id="u1:progress:ev-1",
        event_id="ev-1",
        user_id="u1",
        command="metric",
        time_ms=NOW_MS,
        metric="words",
        total=Decimal(5),
        scores=scores,
    )


def stack_with(*ranks: RankChanged, scores: tuple[str, ...]) -> Stack:
    stack = Stack(leaderboard_rules(), ranks=FakeRanks())
    assert stack.ranks is not None
    for rank in ranks:
        stack.ranks.hand(rank)
    stack.waiter.hand(progress(*scores))
    return stack


def post(stack: Stack) -> dict[str, object]:
    with stack.client() as http:
        resp = http.post(EVENT, json=BODY)
    assert resp.status_code == 201, resp.text
    EventResponse.model_validate(resp.json())  # Trophy's own model reads it
    out = resp.json()["leaderboards"]
    assert isinstance(out, dict)
    return out


def test_each_board_the_event_moved_is_answered_with_its_run_and_ranks() -> None:
    weekly = moved("weekly-words", "2025-03-02", rank=2, previous_rank=4, threshold=Decimal("7.5"))
    forever = moved("all-time-words", "all", rank=9, previous_rank=None)
    stack = stack_with(
        weekly,
        forever,
        scores=(score_id("weekly-words", "2025-03-02"), score_id("all-time-words", "all")),
    )
    boards = post(stack)
    assert stack.ranks is not None
    assert stack.ranks.expected == stack.ranks.forgotten == ["ev-1"]
    assert stack.ranks.asked == [
        [
            f"{score_id('weekly-words', '2025-03-02')}:rank",
            f"{score_id('all-time-words', 'all')}:rank",
        ]
    ]
    assert sorted(boards) == ["all-time-words", "weekly-words"]
    week = boards["weekly-words"]
    assert isinstance(week, dict)
    # a week from Sunday 2 March 2025 is 2 to 8 March; the cap is full: 7.5 floored
    assert (week["start"], week["end"], week["rank"], week["previousRank"]) == (
        "2025-03-02",
        "2025-03-08",
        2,
        4,
    )
    assert (week["threshold"], week["maxParticipants"], week["runUnit"]) == (7, 3, "day")
    assert (week["key"], week["name"], week["metricKey"]) == (
        "weekly-words",
        "Weekly words",
        "words",
    )
    assert week["status"] == "active" and "breakdownAttributeValues" not in week
    ever = boards["all-time-words"]
    assert isinstance(ever, dict)
    assert (ever["start"], ever["end"], ever["rank"], ever["previousRank"]) == (
        "1970-01-01",
        None,
        9,
        None,
    )
    assert ever["threshold"] == 0  # not capped: any value enters


def test_a_breakdown_board_names_the_users_group_and_a_monthly_run_its_dates() -> None:
    group = "plan=pro&region=eu%20west"
    stack = stack_with(
        moved("monthly-chapters", "2025-02-28", group),
        scores=(score_id("monthly-chapters", "2025-02-28", group),),
    )
    board = post(stack)["monthly-chapters"]
    assert isinstance(board, dict)
    # month runs from the board's start, 31 January, start on 31 Jan, 28 Feb, 31 Mar, ...
    assert (board["start"], board["end"]) == ("2025-02-28", "2025-03-30")
    assert board["breakdownAttributes"] == ["plan", "region"]
    assert board["breakdownAttributeValues"] == [
        {"key": "plan", "value": "pro"},
        {"key": "region", "value": "eu west"},
    ]
    assert "breakdownAttributeValue" not in board  # two attributes: the deprecated one is out


def test_a_rank_the_stage_did_not_make_in_time_leaves_its_board_out() -> None:
    stack = stack_with(
        moved("all-time-words", "all"),
        scores=(score_id("all-time-words", "all"), score_id("weekly-words", "2025-03-02")),
    )
    assert list(post(stack)) == ["all-time-words"]


def test_an_event_that_moved_no_score_asks_for_no_rank() -> None:
    ranks = FakeRanks()
    stack = Stack(leaderboard_rules(), ranks=ranks)
    stack.waiter.hand(progress())
    assert post(stack) == {}
    assert ranks.asked == [] and ranks.expected == ranks.forgotten == ["ev-1"]


def test_an_api_completion_answers_the_boards_it_moved_the_user_on() -> None:
    """`POST /achievements/{key}/complete` carries `leaderboards` like an event's answer (a
    points trigger on the achievement may move a points board); Trophy's model still reads
    the answer (the field is an addition its schema allows)."""
    rules = parse_rules(
        LEADERBOARDS_PATH.read_text()
        + '\n[[achievements]]\nkey = "beta"\nname = "Beta"\ntrigger = "api"\n'
    )
    stack = Stack(rules, ranks=FakeRanks())
    assert stack.ranks is not None
    forever = moved("all-time-words", "all", rank=3, previous_rank=5)
    stack.ranks.hand(forever)
    done = AchievementCompleted(
        id="u1:beta",
        user_id="u1",
        achievement="beta",
        achieved_at_ms=NOW_MS,
        trigger="api",
        event_id="ev-1",
    )
    stack.waiter.hand(replace(progress(score_id("all-time-words", "all")), achievements=(done,)))
    with stack.client() as http:
        resp = http.post("/achievements/beta/complete", json={"user": {"id": "u1"}})
    assert resp.status_code == 201, resp.text
    AchievementCompletionResponse.model_validate(resp.json())
    boards = resp.json()["leaderboards"]
    assert list(boards) == ["all-time-words"]
    assert (boards["all-time-words"]["rank"], boards["all-time-words"]["previousRank"]) == (3, 5)
