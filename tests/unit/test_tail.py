"""`podium tail scores|leaderboards` prints one readable line per score or rank change."""

from __future__ import annotations

from deploy.tail import describe

SCORE = (
    b'{"schema_version":1,"type":"score","id":"ada:score:top-writers:all::e1",'
    b'"board":"top-writers","run":"all","group":"","userId":"ada","eventId":"e1",'
    b'"timeMs":1735689600000,"previous":"750","value":"1500"}'
)
RANK = (
    b'{"schema_version":1,"type":"rank","id":"x:rank","cause":"x","board":"weekly",'
    b'"run":"2025-01-05","group":"plan=pro","userId":"ben","timeMs":1735689600000,'
    b'"previousRank":4,"rank":2,"previousValue":"10","value":"40","reachedMs":1735689600000,'
    b'"participants":9}'
)


def test_score_and_rank_changes_read_as_one_line_each() -> None:
    assert describe("scores", SCORE) == (
        "2025-01-01 00:00:00.000  user ada  top-writers run all  score 750 -> 1500"
    )
    assert describe("leaderboards", RANK) == (
        "2025-01-01 00:00:00.000  user ben  weekly run 2025-01-05 group plan=pro  "
        "rank 4 -> 2  value 40  of 9"
    )
    assert describe("scores", b"[1]").startswith("(undecodable: ")


def test_every_topic_of_the_catalogue_can_be_tailed() -> None:
    from schemas.topics import BY_SHORT_NAME, CATALOGUE

    assert {t.name for t in BY_SHORT_NAME.values()} == {t.name for t in CATALOGUE}
    assert {"points", "state", "ranking.state", "dlq", "events.dlq"} <= set(BY_SHORT_NAME)


def test_points_and_states_read_as_one_line_each() -> None:
    points = (
        b'{"schema_version":1,"type":"points","id":"a1","userId":"ada","system":"xp",'
        b'"eventId":"e1","timeMs":1735689600000,"total":120,"added":20,"awards":[],'
        b'"previousLevel":"novice","level":"adept"}'
    )
    assert describe("points", points) == (
        "2025-01-01 00:00:00.000  user ada  xp +20  total 120  level novice -> adept"
    )
    from schemas.state import UserState, encode_state

    state = encode_state(UserState(user_id="ada", offset=41))
    assert describe("state", state) == "user ada  state applied through offset 41"
    assert describe("state", None) == "(tombstone)"
    assert describe("ranking.state", SCORE).endswith("top-writers run all  score 750 -> 1500")
    assert describe("points", SCORE).startswith("(undecodable: ")
