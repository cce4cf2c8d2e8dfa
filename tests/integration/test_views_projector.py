"""The projector against a real Redis (no Kafka: the changelog records are handed over as the
loops hand them). `podium views rebuild` drops the epoch markers before it clears, so a reader
answers 503, never a false 404, while the views go; a view's compare-and-set is by the state
record's changelog offset, so a replay's state that applied fewer commands still replaces it.
Expected values are written by hand from the states built here."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, NamedTuple

import orjson
import pytest
from redis.asyncio import Redis
from starlette.requests import Request

from deploy.settings import REPO_DIR
from ingest.http import api_points
from ingest.http.api import ApiError
from ingest.routes_leaderboards import LeaderboardRoutes
from ingest.routes_points import PointsRoutes
from ingest.views import ViewReader
from processors.board_views import BoardProjector
from processors.core.fold import evolve
from processors.core.ranking import Ranking
from processors.projector import Projector, clear
from schemas.commands import MetricTracked, User
from schemas.leaderboards import ScoreChanged, encode_leaderboard_record
from schemas.rules_parse import load_rules
from schemas.state import UserState, encode_state
from schemas.values import replace
from schemas.views import Keys, decode_view
from tests.integration.gateway.conftest import RULES
from tests.sent import sent

pytestmark = pytest.mark.integration


class Rec(NamedTuple):
    offset: int
    value: bytes | None


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def _states(user: str, words: list[int]) -> Iterator[UserState]:
    """The user's successive states after each event of `words` (one per minute)."""
    rules, state = load_rules(RULES), None
    for i, n in enumerate(words):
        cmd = MetricTracked(
            event_id=f"{user}-{i}",
            time_ms=1_774_692_000_000 + i * 60_000,
            user=User(id=user),
            metric="words-written",
            value=Decimal(n),
        )
        state, _ = evolve(state, cmd, rules)
        yield state


def _last(user: str, words: list[int]) -> bytes:
    return encode_state(list(_states(user, words))[-1])


class WatchedRedis:
    """A Redis whose every `unlink` of a user's document is followed by a read of that user
    through the gateway's reader, recording its outcome: 503 or a (false) 404."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys
        self.reader = ViewReader(redis, keys)
        self.outcomes: list[str] = []

    def scan_iter(self, **kwargs: Any) -> Any:
        return self.redis.scan_iter(**kwargs)

    async def expire(self, key: str | bytes, seconds: int) -> Any:
        return await self.redis.expire(key, seconds)

    async def unlink(self, *names: str | bytes) -> int:
        deleted = int(await self.redis.unlink(*names))
        user_prefix = self.keys.user("").encode()
        for name in names:
            raw = name if isinstance(name, bytes) else name.encode()
            if raw.startswith(user_prefix):
                uid = raw[len(user_prefix) :].decode()
                try:
                    found = await self.reader.users([uid])
                    self.outcomes.append("404" if found == [None] else "200")
                except ApiError as err:
                    self.outcomes.append(str(err.status))
        return deleted


async def test_a_rebuild_drops_the_markers_before_it_clears_so_readers_get_503(
    redis: Redis,
) -> None:
    keys = Keys(f"t{uuid.uuid4().hex[:8]}:")
    proj = Projector(redis, keys, load_rules(RULES))
    users = [f"u{i}" for i in range(300)]
    await proj.apply(Rec(i, _last(u, [100])) for i, u in enumerate(users))
    await redis.set(keys.epoch, 1)
    await redis.set(keys.board_epoch, 1)
    await redis.set(keys.rank_history_epoch, 1)
    assert await ViewReader(redis, keys).users(["u7"]) != [None]  # built whole: a document
    watched = WatchedRedis(redis, keys)
    await clear(watched, keys)  # type: ignore[arg-type]  # a Redis as clear uses it
    assert len(watched.outcomes) == 300
    assert set(watched.outcomes) == {"503"}
    assert await redis.exists(keys.epoch, keys.board_epoch, keys.rank_history_epoch) == 0
    assert [k async for k in redis.scan_iter(match=keys.pattern)] == []


async def test_clear_keeps_the_lease_of_the_rebuild_that_clears(redis: Redis) -> None:
    keys = Keys(f"t{uuid.uuid4().hex[:8]}:")
    await redis.set(keys.rebuilding, "token")
    await redis.set(keys.epoch, 1)
    await redis.set(keys.user("a"), "x")
    await clear(redis, keys)
    assert await redis.get(keys.rebuilding) == b"token"
    assert await redis.exists(keys.epoch, keys.user("a")) == 0


async def test_a_replayed_state_that_applied_fewer_commands_replaces_the_view(
    redis: Redis,
) -> None:
    """Live: lena's state after 3 events (100 + 200 + 300 words) at offset 2. A replay (say,
    under rules that now refuse the third event) writes her state after 2 events at offset
    3: the view shows 300 words. Versioned by commands applied (3 > 2) it kept 600."""
    keys = Keys(f"t{uuid.uuid4().hex[:8]}:")
    proj = Projector(redis, keys, load_rules(RULES))
    live = list(_states("lena", [100, 200, 300]))
    await proj.apply(Rec(offset, encode_state(s)) for offset, s in enumerate(live))
    replayed = live[1]  # the same user after two commands: what the replay rebuilt
    assert replayed.events == 2 and live[-1].events == 3
    assert await proj.apply([Rec(3, encode_state(replayed))]) == 1

    async def words() -> str:
        raw = await redis.hget(keys.user("lena"), "doc")
        assert raw is not None
        view = decode_view(raw)
        return str(view.totals["words-written"])

    assert await words() == "300"
    # redelivered records from before the replay change nothing, one by one or in a batch
    assert await proj.apply([Rec(2, encode_state(live[-1]))]) == 0
    assert await proj.apply([Rec(3, encode_state(replayed)), Rec(2, encode_state(live[-1]))]) == 1
    assert await words() == "300"
    assert await redis.hget(keys.user("lena"), "at") == b"3"


def _score(user: str, value: int, reached_ms: int) -> Rec:
    change = ScoreChanged(
        id=f"{user}:score:top:all::e{reached_ms}",
        board="top",
        run="all",
        group="",
        user_id=user,
        event_id=f"e{reached_ms}",
        time_ms=reached_ms,
        previous=None,
        value=Decimal(value),
    )
    return Rec(reached_ms, encode_leaderboard_record(change))


async def test_board_values_beyond_2_53_rank_in_redis_as_the_ranker_ranks_them(
    redis: Redis,
) -> None:
    """2^53 and 2^53 + 1 are one double, so Redis's score is the same for "early" (2^53)
    and "late" (2^53 + 1); 2^53 + 2 ("mid") is the next double. By value: mid, late, early,
    as the ranker (exact decimals) has it; by score and then time, late would be last."""
    keys = Keys(f"t{uuid.uuid4().hex[:8]}:")
    await redis.set(keys.board_epoch, 1)
    entries = [("early", 2**53, 1_000), ("late", 2**53 + 1, 2_000), ("mid", 2**53 + 2, 3_000)]
    await BoardProjector(redis, keys).apply(_score(*e) for e in entries)
    reader = ViewReader(redis, keys)
    page = await reader.board_page("top|all|", 0, 10)
    assert [user for user, _ in page] == ["mid", "late", "early"]
    ranker = Ranking.build((u, Decimal(v), t) for u, v, t in entries)
    assert [e.user_id for e in ranker.entries()] == ["mid", "late", "early"]
    standing = await reader.board_standing("top|all|", "late")
    assert standing is not None and standing[0] == 1  # second (0 is first)


# --- bounded reads: the names hash and the attribute index (issue 18) -----------------------

EXAMPLE = load_rules(REPO_DIR / "deploy" / "rules.example.toml")


def _user(i: int, words: int, name: str | None, **attributes: str) -> UserState:
    """One user after one event of `words` words (the example rules: 10 XP per 100 words)."""
    cmd = MetricTracked(
        event_id=f"e-{i}",
        time_ms=1_774_692_000_000,
        user=User(id=f"user-{i:04d}", name=name, attributes=attributes or None),
        metric="words-written",
        value=Decimal(words),
    )
    state, _ = evolve(None, cmd, EXAMPLE)
    return state


def _request(path: str, query: str, **params: str) -> Request:
    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "path_params": params}
    return Request({**scope, "query_string": query.encode()})


async def _commands(redis: Redis) -> int:
    return int((await redis.info("stats"))["total_commands_processed"])


async def test_the_points_summary_filtered_by_attributes_reads_no_document(redis: Redis) -> None:
    """300 users, every third on plan "pro": the summary of the pro users counts from the
    attribute index (one range read, one ZMSCORE, and the epoch check), and answers what a
    walk over every user's view document gives."""
    keys = Keys(f"t{uuid.uuid4().hex[:8]}:")
    states = [
        _user(i, 100 * (1 + i % 7), f"W{i}", plan="pro" if i % 3 == 0 else "free", region="eu")
        for i in range(300)
    ]
    await Projector(redis, keys, EXAMPLE).apply(
        Rec(i, encode_state(s)) for i, s in enumerate(states)
    )
    await redis.set(keys.epoch, 1)
    gw: Any = SimpleNamespace(views=ViewReader(redis, keys), rules=EXAMPLE)
    before = await _commands(redis)
    response = await PointsRoutes(gw).summary(
        _request("/v1/points/xp/summary", "userAttributes=plan:pro", key="xp")
    )
    ran = await _commands(redis) - before - 1  # less the INFO that counted
    assert ran <= 3
    raws = [await redis.hget(keys.user(s.user_id), "doc") for s in states]
    docs = [decode_view(raw) for raw in raws if raw is not None]
    pro = [d.points["xp"].total for d in docs if d.attributes["plan"] == "pro"]
    assert len(pro) == 100
    ranges = api_points.summary_ranges(max(pro))
    expected = api_points.summary_json(ranges, api_points.count_ranges(pro, ranges))
    assert orjson.loads(response.body) == sent(expected)


async def test_the_attribute_index_follows_a_changed_value_and_never_mixes_values(
    redis: Redis,
) -> None:
    keys = Keys(f"t{uuid.uuid4().hex[:8]}:")
    proj = Projector(redis, keys, EXAMPLE)
    reader = ViewReader(redis, keys)
    users = [
        _user(0, 100, None, plan="pro"),
        _user(1, 200, None, plan="pro2"),  # "pro" and more
        _user(2, 300, None, plan=""),  # an empty value
        _user(3, 400, None, plan="pro", team="a"),
    ]
    await proj.apply(Rec(i, encode_state(s)) for i, s in enumerate(users))
    xp = [int(s.points["xp"].total) for s in users]  # the states' own totals, all different
    assert len(set(xp)) == 4

    async def where(**attrs: str) -> list[int]:
        return sorted(await reader.points_totals_where("xp", attrs))

    assert await where(plan="pro") == sorted([xp[0], xp[3]])
    assert await where(plan="pro2") == [xp[1]]
    assert await where(plan="") == [xp[2]]
    assert await where(plan="pro", team="a") == [xp[3]]
    assert await where(plan="pr") == []
    await proj.apply([Rec(4, encode_state(replace(users[0], attributes={"plan": "free"})))])
    assert await where(plan="pro") == [xp[3]]
    assert await where(plan="free") == [xp[0]]


async def test_a_board_pages_names_are_one_read_of_the_names_hash(redis: Redis) -> None:
    keys = Keys(f"t{uuid.uuid4().hex[:8]}:")
    proj = Projector(redis, keys, EXAMPLE)
    states = [_user(i, 100, None if i % 10 == 0 else f"Writer {i}") for i in range(200)]
    await proj.apply(Rec(i, encode_state(s)) for i, s in enumerate(states))
    await redis.set(keys.epoch, 1)
    gw: Any = SimpleNamespace(views=ViewReader(redis, keys), rules=EXAMPLE)
    ids = [s.user_id for s in states]
    before = await _commands(redis)
    names = await LeaderboardRoutes(gw).names(ids)
    assert await _commands(redis) - before - 1 <= 2  # HMGET and the epoch check
    assert names == [None if i % 10 == 0 else f"Writer {i}" for i in range(200)]
    renamed = replace(states[5], name="Quill")
    await proj.apply([Rec(200, encode_state(renamed))])
    assert await LeaderboardRoutes(gw).names(["user-0005", "nobody"]) == ["Quill", None]
