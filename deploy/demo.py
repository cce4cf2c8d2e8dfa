"""The demo `podium run` plays through Trophy's own Python SDK against the local gateway: a
book-writing platform where two authors in two time zones write words and finish chapters,
earning XP (the example rules' points system `xp`) until Ada levels up."""

from __future__ import annotations

import time

import httpx
from trophy import TrophyApi
from trophy.environment import TrophyApiEnvironment
from trophy.types import EventResponse

from deploy.local import StartError

ADA = {"id": "ada", "name": "Ada", "tz": "Europe/London"}
BEN = {"id": "ben", "name": "Ben", "tz": "America/New_York", "attributes": {"plan": "pro"}}


def client(base_url: str, api_key: str) -> TrophyApi:
    """Trophy's SDK pointed at Podium: only the base URLs change (admin: `/admin/v1`)."""
    env = TrophyApiEnvironment(api=base_url, admin=base_url.removesuffix("/v1") + "/admin/v1")
    return TrophyApi(api_key=api_key, environment=env, max_retries=0)


def wait_pipeline(base_url: str, api_key: str, timeout: float = 60.0) -> None:
    """Until a write comes back processed (201, not 202): the worker has its partitions."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=base_url, headers={"X-API-KEY": api_key}, timeout=10) as http:
        while True:
            resp = http.post("/users", json=ADA)
            if resp.status_code == 201:
                return
            if time.monotonic() > deadline:
                raise StartError(
                    f"the pipeline did not process a write within {timeout:.0f} s "
                    f"(last answer {resp.status_code}: {resp.text[:200]})"
                )
            time.sleep(0.5)


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


def _top(trophy: TrophyApi, key: str, timeout: float = 10.0) -> str:
    """The board's first places once the read views have them (they follow the log)."""
    deadline = time.monotonic() + timeout
    while True:
        board = trophy.leaderboards.get(key=key)
        if board.rankings or time.monotonic() > deadline:
            places = (f"#{r.rank} {r.user_name or r.user_id} {r.value}" for r in board.rankings)
            return f"  {board.name}: " + (", ".join(places) or "nobody yet")
        time.sleep(0.2)


def play(base_url: str, api_key: str) -> list[str]:
    """Send the demo's events; one printable line per event."""
    wait_pipeline(base_url, api_key)
    trophy = client(base_url, api_key)
    out: list[str] = []

    def words(user: dict, n: int, key: str | None = None) -> None:
        resp = trophy.metrics.event(
            key="words-written",
            user=user,
            value=n,
            idempotency_key=key,
        )
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
    time.sleep(0.5)  # the read views follow the log a moment behind
    metrics = trophy.users.all_metrics(id="ada")
    totals = ", ".join(f"{m.name} {m.current:g}" for m in metrics)
    out.append(f"  ada's totals now: {totals}")
    for system in ("xp",):
        pts = trophy.users.points(id="ada", key=system, awards=3)
        level = pts.level.name if pts.level else "no level"
        recent = ", ".join(
            f"{a.trigger.id if a.trigger else '?'} {a.awarded:+d}" for a in pts.awards
        )
        out.append(f"  ada's {pts.name}: {pts.total} ({level}); latest awards: {recent}")
    levels = trophy.points.level_summary(key="xp")
    out.append("  users per XP level: " + ", ".join(f"{s.level.name} {s.users}" for s in levels))
    out.append(_top(trophy, "top-writers"))
    return out
