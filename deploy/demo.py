"""The demo `podium run` plays through Trophy's own Python SDK against the local gateway: a
book-writing platform where two authors in two time zones write words and finish chapters,
earning XP (the example rules' points system `xp`) until Ada levels up.

Each run plays in a tenant of its own (Trophy's `Tenant-ID`, `schemas.tenants`), so the story
is the same on every run of a stack that keeps its data: fresh users, empty boards, Ada's
level up. Before the first event it waits, within bounds, for the gateway's readiness and for
the read views to be whole (a Redis that came back empty is being rebuilt by the projector),
then for the worker to hold its partitions."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
from trophy import TrophyApi
from trophy.core.api_error import ApiError
from trophy.environment import TrophyApiEnvironment
from trophy.types import EventResponse

from deploy.local import StartError

ADA = {"id": "ada", "name": "Ada", "tz": "Europe/London"}
BEN = {"id": "ben", "name": "Ben", "tz": "America/New_York", "attributes": {"plan": "pro"}}
READY_TIMEOUT_S = 120.0  # a rebuild of the views reads the whole state changelog
T = TypeVar("T")


def new_tenant() -> str:
    """A tenant for one run of the demo."""
    return f"demo-{secrets.token_hex(3)}"


def client(base_url: str, api_key: str, tenant: str | None = None) -> TrophyApi:
    """Trophy's SDK pointed at Podium: only the base URLs change (admin: `/admin/v1`)."""
    env = TrophyApiEnvironment(api=base_url, admin=base_url.removesuffix("/v1") + "/admin/v1")
    return TrophyApi(api_key=api_key, environment=env, tenant_id=tenant, max_retries=0)


def wait_readable(root: str, timeout: float = READY_TIMEOUT_S) -> None:
    """Until the gateway's /ready answers 200 with the read views whole (`views`), or
    `StartError` saying which of the two did not come."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    with httpx.Client(base_url=root, timeout=5) as http:
        while True:
            try:
                resp = http.get("/ready")
                body = resp.json()
                if resp.status_code == 200 and body.get("views") is True:
                    return
                last = (
                    "the read views are still being rebuilt (see the projector's log)"
                    if resp.status_code == 200
                    else f"{resp.status_code}: {body.get('error', resp.text[:200])}"
                )
            except (httpx.HTTPError, ValueError) as exc:
                last = f"no answer ({type(exc).__name__})"
            if time.monotonic() > deadline:
                raise StartError(
                    f"the gateway at {root} was not ready within {timeout:.0f} s: {last}"
                )
            time.sleep(0.2)


def wait_pipeline(
    base_url: str, api_key: str, timeout: float = 60.0, tenant: str | None = None
) -> None:
    """Until a user written now is in the read views: the worker holds its partitions and
    the projector follows. (POST /users answers 201 as soon as the write is durable, folded
    or not, so its status alone says nothing of the worker.)"""
    deadline = time.monotonic() + timeout
    headers = {"X-API-KEY": api_key, **({"Tenant-ID": tenant} if tenant else {})}
    posted: str | None = None  # the written user's `updated`, once the write is durable
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as http:
        while True:
            if posted is None:
                resp = http.post("/users", json=ADA)
                posted = resp.json()["updated"] if resp.status_code == 201 else None
            else:
                resp = http.get(f"/users/{ADA['id']}")
                if resp.status_code == 200 and resp.json()["updated"] == posted:
                    return
            if time.monotonic() > deadline:
                raise StartError(
                    f"the pipeline did not fold and project a write within {timeout:.0f} s "
                    f"(last answer {resp.status_code}: {resp.text[:200]})"
                )
            time.sleep(0.2)


def _points(resp: EventResponse) -> str:
    """The points systems the event changed: `+added (total)`, and a level reached."""
    parts = []
    for p in (resp.points or {}).values():
        level = f", level up: {p.level.name}!" if p.level else ""
        parts.append(f"{p.name} {p.added:+d} (= {p.total}{level})")
    return "; ".join(parts) or "no points"


def _ranks(resp: EventResponse) -> str:
    """The boards the event moved the user on: `#rank`, and the rank before when it changed."""
    parts = []
    for board in (resp.leaderboards or {}).values():
        if board.rank is None:
            continue
        was = board.previous_rank
        moved = f" (was #{was})" if was is not None and was != board.rank else ""
        parts.append(f"{board.name} #{board.rank}{moved}")
    return ", ".join(parts) or "no rank change"


def _line(who: str, what: str, resp: EventResponse) -> str:
    unlocked = ", ".join(a.name for a in resp.achievements) or "nothing new"
    replay = "  (idempotent replay: nothing changed)" if resp.idempotent_replayed else ""
    return (
        f"  {who:4} {what:32} total {resp.total:>8g}  streak {resp.current_streak.length}"
        f"  unlocked: {unlocked}  points: {_points(resp)}  ranks: {_ranks(resp)}{replay}"
    )


def _until(read: Callable[[], T], done: Callable[[T], bool], what: str, timeout: float) -> T:
    """`read()` again until `done` holds of its answer: the read views follow the log a moment
    behind (a 404 or 503 meanwhile is waited out too); `StartError` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = read()
            if done(got):
                return got
            last = "not yet"
        except ApiError as exc:
            last = f"{exc.status_code}: {exc.body}"
        if time.monotonic() > deadline:
            raise StartError(f"the read views did not show {what} within {timeout:.0f} s: {last}")
        time.sleep(0.2)


def _events(trophy: TrophyApi, words_of: dict[str, float]) -> list[str]:
    """Send the demo's events; one printable line per event. `words_of`: each user's words
    total as the last answer gave it."""
    out: list[str] = []

    def words(user: dict, n: int, key: str | None = None) -> None:
        resp = trophy.metrics.event(
            key="words-written",
            user=user,
            value=n,
            idempotency_key=key,
        )
        words_of[user["id"]] = resp.total
        out.append(_line(user["id"], f"wrote {n} words", resp))

    words(ADA, 750, key="ada-session-1")
    words(BEN, 4200)
    words(ADA, 750, key="ada-session-1")  # a client retry: same Idempotency-Key
    words(ADA, 19_250)
    words(BEN, 6000)
    resp = trophy.metrics.event(
        key="chapters-finished",
        user=ADA,
        value=1,
        attributes={"genre": "poetry"},
    )
    out.append(_line("ada", "finished a poetry chapter", resp))
    done = trophy.achievements.complete(key="published", user=ADA)
    out.append(f"  ada  completed {done.achievement.name!r} through the API")
    return out


def _reads(trophy: TrophyApi, words_of: dict[str, float], timeout: float = 30.0) -> list[str]:
    """What the read views say once they hold every event sent (both users' documents, the
    points sorted set, the board with the totals the answers gave: an answer, ranks
    included, leaves before the views are written)."""
    metrics = _until(
        lambda: trophy.users.all_metrics(id="ada"),
        lambda ms: (
            {m.key: m.current for m in ms} == {"words-written": 20000, "chapters-finished": 1}
        ),
        "ada's events",
        timeout,
    )
    out = ["  ada's totals now: " + ", ".join(f"{m.name} {m.current:g}" for m in metrics)]
    pts = trophy.users.points(id="ada", key="xp", awards=3)
    level = pts.level.name if pts.level else "no level"
    recent = ", ".join(f"{a.trigger.id if a.trigger else '?'} {a.awarded:+d}" for a in pts.awards)
    out.append(f"  ada's {pts.name}: {pts.total} ({level}); latest awards: {recent}")
    levels = _until(
        lambda: trophy.points.level_summary(key="xp"),
        lambda summary: sum(s.users for s in summary) == 2,
        "both users' XP",
        timeout,
    )
    out.append("  users per XP level: " + ", ".join(f"{s.level.name} {s.users}" for s in levels))
    board = _until(
        lambda: trophy.leaderboards.get(key="top-writers"),
        lambda b: {r.user_id: float(r.value) for r in b.rankings} == words_of,
        "both users' totals on the board",
        timeout,
    )
    places = (f"#{r.rank} {r.user_name or r.user_id} {r.value}" for r in board.rankings)
    out.append(f"  {board.name}: " + ", ".join(places))
    return out


def play(root: str, api_key: str, tenant: str) -> list[str]:
    """Wait for the stack, then play the demo as `tenant`'s users; printable lines."""
    wait_readable(root)
    base_url = root + "/v1"
    wait_pipeline(base_url, api_key, tenant=tenant)
    trophy = client(base_url, api_key, tenant)
    words_of: dict[str, float] = {}
    return _events(trophy, words_of) + _reads(trophy, words_of)
