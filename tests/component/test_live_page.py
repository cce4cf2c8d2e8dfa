"""The live page's server side over fakes: who may read it, what its overview answers (worked
out by hand from tests/rules/dashboard.toml and the views put here), and the feed hub
(`ingest.feed.LiveFeed`) over a source the test feeds: it reads only while a page listens,
gives each page its tenant's lines only, and counts what a slow page missed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from ingest import feed as feed_module
from ingest.feed import LiveFeed, next_lines
from ingest.http.dashboard import Fact
from schemas.records import AchievementCompleted
from schemas.rules import Rules
from schemas.rules_parse import load_rules
from schemas.tenants import qualify
from tests.component.fakes import NOW_MS, Stack, view
from tests.rules import DASHBOARD_PATH

ROOT = "http://podium.test"


@pytest.fixture(scope="module")
def rules() -> Rules:
    return load_rules(DASHBOARD_PATH)


@pytest.fixture
def stack(rules: Rules) -> Stack:
    """ada: 600 words, both achievements, 60 XP (Writer); ben: 300 words, First words, 30 XP
    (Novice); cy: known, nothing yet; and eleven more on the board with 1 to 11 words."""
    st = Stack(rules)
    v = st.views
    xp: dict[str, object] = {"awards": [], "days": []}
    v.put(
        view(
            "ada",
            name="Ada",
            achievements={"first-words": NOW_MS, "novella": NOW_MS},
            points={"xp": {**xp, "total": 60, "level": "writer"}},
        )
    )
    v.put(
        view(
            "ben",
            name="Ben",
            achievements={"first-words": NOW_MS},
            points={"xp": {**xp, "total": 30, "level": "novice"}},
        )
    )
    v.put(view("cy"))
    v.score("top-writers|all|", "ada", 600)
    v.score("top-writers|all|", "ben", 300)
    for n in range(1, 12):
        v.score("top-writers|all|", f"u{n:02}", n)
    return st


@pytest.fixture
def http(stack: Stack) -> Iterator[TestClient]:
    with stack.client() as client:
        yield client


def test_the_page_is_open_and_its_reads_need_the_key(stack: Stack) -> None:
    with stack.client(api_key=None) as anon:
        page = anon.get(ROOT + "/dashboard")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert anon.get(ROOT + "/dashboard/app.js").status_code == 200
        for path in ("/overview", "/health", "/feed"):
            resp = anon.get(ROOT + "/dashboard/api" + path)
            assert (resp.status_code, resp.json()) == (401, {"error": "missing X-API-KEY header"})
    with stack.client(api_key="pk_wrong.key") as wrong:
        assert wrong.get(ROOT + "/dashboard/api/overview").status_code == 401


def test_the_overview(http: TestClient) -> None:
    got = http.get(ROOT + "/dashboard/api/overview?userId=ada").json()
    (board,) = got["boards"]
    assert (board["key"], board["run"], board["user"]) == (
        "top-writers",
        None,
        {"rank": 1, "value": 600},
    )
    top = [(r["rank"], r["userId"], r["value"]) for r in board["top"]]
    assert top == [
        (1, "ada", 600),
        (2, "ben", 300),
        *((i, f"u{14 - i:02}", 14 - i) for i in range(3, 11)),
    ]
    stats = [(a["id"], a["completions"], a["rarity"]) for a in got["achievements"]]
    assert stats == [("first-words", 2, 66.67), ("novella", 1, 33.33)]  # of 3 users
    (xp,) = got["points"]
    assert [(lv["level"]["key"], lv["users"]) for lv in xp["levels"]] == [
        ("novice", 1),
        ("writer", 1),
    ]
    assert xp["user"] == {"total": 60, "level": "Writer"}
    assert (got["userId"], got["userFound"]) == ("ada", True)


def test_the_overview_of_an_unknown_or_unnamed_user(http: TestClient) -> None:
    nobody = http.get(ROOT + "/dashboard/api/overview?userId=zed").json()
    assert (nobody["userFound"], nobody["boards"][0]["user"], nobody["points"][0]["user"]) == (
        False,
        None,
        None,
    )
    unnamed = http.get(ROOT + "/dashboard/api/overview").json()
    assert unnamed["userId"] is None and len(unnamed["boards"][0]["top"]) == 10
    bad = http.get(ROOT + "/dashboard/api/overview", params={"userId": "a\x00b"})
    assert (bad.status_code, bad.json()) == (
        422,
        {"error": "userId: a user id may not contain U+0000"},
    )


def test_health_without_a_broker(http: TestClient) -> None:
    got = http.get(ROOT + "/dashboard/api/health").json()
    assert got["gateway"] == {"kafka": True, "progress": True, "redis": True, "views": True}
    assert (got["pipeline"], got["feedReaders"], got["feedPages"]) == (None, 0, 0)


# --- the feed hub --------------------------------------------------------------------------


class Scripted:
    """A source the test feeds: positioned at once, then it hands on what is put in `facts`."""

    def __init__(self) -> None:
        self.facts: asyncio.Queue[Fact] = asyncio.Queue()
        self.runs = 0
        self.running = False

    async def run(self, take: Callable[[Fact], None], ready: Callable[[], None]) -> None:
        self.runs += 1
        self.running = True
        ready()
        try:
            while True:
                take(await self.facts.get())
        finally:
            self.running = False


def unlocked(user: str, key: str = "first-words") -> AchievementCompleted:
    return AchievementCompleted(
        id=f"{user}:{key}",
        user_id=user,
        achievement=key,
        achieved_at_ms=NOW_MS,
        trigger="metric",
        event_id="e",
    )


async def names(ids: list[str]) -> list[str | None]:
    return [i.upper() for i in ids]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_feed_reads_only_while_a_page_listens(rules: Rules) -> None:
    source = Scripted()
    hub = LiveFeed(source, rules)
    assert not hub.reading and source.runs == 0
    async with hub.subscribe(None):
        await settle()
        assert (hub.reading, hub.live, source.running) == (True, True, True)
        async with hub.subscribe("acme"):
            await settle()
            assert source.runs == 1  # one reader for every page
        assert hub.reading
    await settle()
    assert (hub.reading, hub.live, source.running, hub.pages) == (False, False, False, 0)


async def test_each_page_sees_its_tenants_lines_with_names(rules: Rules) -> None:
    source = Scripted()
    hub = LiveFeed(source, rules)
    async with hub.subscribe("acme") as acme, hub.subscribe(None) as plain:
        await settle()
        for fact in (
            unlocked(qualify("acme", "ada")),
            unlocked("bob"),
            unlocked(qualify("zeta", "cy")),
        ):
            source.facts.put_nowait(fact)
        await settle()
        got = await next_lines(acme, 1.0, names)
        assert [(i.user_id, i.user_name, i.text) for i in got] == [
            ("ada", "ADA", "unlocked First words")
        ]
        got = await next_lines(plain, 1.0, names)
        assert [(i.user_id, i.text) for i in got] == [("bob", "unlocked First words")]
        assert await next_lines(plain, 0.05, names) == []


async def test_a_slow_page_loses_lines_and_is_told(
    rules: Rules, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_module, "QUEUE_SIZE", 3)
    source = Scripted()
    hub = LiveFeed(source, rules)
    async with hub.subscribe(None) as page:
        await settle()
        for n in range(5):
            source.facts.put_nowait(unlocked(f"u{n}"))
        await settle()
        got = await next_lines(page, 1.0, names)
        assert ([i.user_id for i in got], page.missed) == (["u0", "u1", "u2"], 2)
