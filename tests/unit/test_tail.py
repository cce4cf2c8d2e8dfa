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
