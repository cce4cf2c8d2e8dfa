"""Hand-written fakes of the gateway's ports, and a gateway built on them.

Each implements its port of `ingest.ports` (mypy checks it: `_conforms` below) and holds
only plain data, so nothing here opens a socket.

- `FakePublisher` records every command it is asked to publish; told to `fail` it answers
  like an unreachable broker, told to `time_out` like a broker that never acknowledges.
- `FakeWaiter` answers `expect(event_id)` with the `Progress` handed to it for that event id,
  and otherwise leaves the future pending (the gateway's bounded wait then times out).
- `FakeViews` reads view documents, completion sets and the user set from plain dicts; the
  points sorted sets are the totals of the documents that have a standing in the system; the
  leaderboard sorted sets are `boards` (ranking -> user -> (value, reached ms)), ordered as
  Redis orders them: value desc, then the member (reached ms, then user id); the yearly
  sorted sets are what a test puts in `years`; the participants' daily histories are what a
  test puts in `histories` ((ranking, user) -> days).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec
from starlette.testclient import TestClient

from ingest.answers import NotApplied
from ingest.app import build_app
from ingest.auth import KeyRing, hash_key
from ingest.kafka import Unavailable
from ingest.ports import AnswerFeed, Entry, EventLog, RankFeed, Views
from ingest.routes import Gateway
from ingest.views import boards_rebuilding, rebuilding
from schemas.commands import Command
from schemas.leaderboards import RankChanged
from schemas.records import EventRefused, Progress
from schemas.rules import Rules
from schemas.views import HistoryDay, UserView, decode_view

API_KEY = "pk_component.secret-for-the-component-tier"
BASE_URL = "http://podium.test/v1"
NOW_MS = 1_764_547_200_000  # 2025-12-01T00:00:00.000Z: the fixed clock of every fake gateway
EARLIER_MS = NOW_MS - 86_400_000 - 1  # 2025-11-29T23:59:59.999Z


class FakePublisher:
    def __init__(self) -> None:
        self.ready = True
        self.published: list[Command] = []
        self.calls = 0
        self.fail = False
        self.time_out = False
        self.timeout_s = 0.05

    async def publish_many(self, commands: Sequence[Command]) -> None:
        self.calls += 1
        if self.fail:
            raise Unavailable("the event log (Kafka) is not reachable")
        if self.time_out:
            try:
                async with asyncio.timeout(self.timeout_s):
                    await asyncio.Event().wait()  # an acknowledgement that never comes
            except TimeoutError:
                raise Unavailable(
                    "the event log (Kafka) did not acknowledge the write: TimeoutError"
                ) from None
        self.published.extend(commands)


class FakeWaiter:
    def __init__(self) -> None:
        self.ready = True
        self.handed: dict[str, Progress | EventRefused] = {}
        self.expected: list[str] = []
        self.forgotten: list[str] = []

    def hand(self, progress: Progress | EventRefused) -> None:
        """The Progress that `expect(progress.event_id)` will resolve with (an EventRefused:
        the worker dead-lettered it, the future fails with `NotApplied`)."""
        self.handed[progress.event_id] = progress

    def expect(self, event_id: str) -> asyncio.Future[Progress]:
        self.expected.append(event_id)
        future: asyncio.Future[Progress] = asyncio.get_running_loop().create_future()
        answer = self.handed.get(event_id)
        if isinstance(answer, EventRefused):
            future.set_exception(NotApplied(answer))
        elif answer is not None:
            future.set_result(answer)
        return future

    def forget(self, event_id: str) -> None:
        self.forgotten.append(event_id)


class FakeRanks:
    """The rank changes a test hands over, answered to the requests that wait for them."""

    def __init__(self) -> None:
        self.handed: dict[str, RankChanged] = {}
        self.expected: list[str] = []
        self.forgotten: list[str] = []
        self.asked: list[list[str]] = []

    def hand(self, moved: RankChanged) -> None:
        self.handed[moved.id] = moved

    def expect(self, event_id: str) -> None:
        self.expected.append(event_id)

    def forget(self, event_id: str) -> None:
        self.forgotten.append(event_id)

    async def ranks(
        self, event_id: str, ids: Sequence[str], within_s: float
    ) -> dict[str, RankChanged]:
        self.asked.append(list(ids))
        return {i: self.handed[i] for i in ids if i in self.handed}


class FakeViews:
    def __init__(self) -> None:
        self.docs: dict[str, UserView] = {}
        self.completed: dict[str, set[str]] = {}
        self.known_users: set[str] = set()
        self.up = True
        self.whole = True  # the views' epoch marker is there (False: Redis lost the views)
        self.boards: dict[str, dict[str, tuple[float, int]]] = {}
        self.boards_whole = True  # the board views' epoch marker is there
        # (ranking, user id) -> the participant's kept days, as the projector stores them
        self.histories: dict[tuple[str, str], list[HistoryDay]] = {}
        self.history_whole = True  # the histories' epoch marker is there
        # (kind, key, year) -> user id -> the user's change that year (the yearly zsets)
        self.years: dict[tuple[str, str, int], dict[str, float]] = {}

    def put(self, doc: UserView) -> None:
        """Store a user's view document as the projector would: the user counts, and so do
        the achievements the document records."""
        uid = doc.user_id
        self.docs[uid] = doc
        self.known_users.add(uid)
        for key in doc.achievements:
            self.completed.setdefault(key, set()).add(uid)

    async def user(self, user_id: str) -> UserView | None:
        return self.docs.get(user_id)

    async def users(self, user_ids: Iterable[str]) -> list[UserView | None]:
        docs = [self.docs.get(uid) for uid in user_ids]
        if not self.whole and None in docs:
            raise rebuilding()
        return docs

    async def completions(self, achievements: Iterable[str]) -> tuple[dict[str, int], int]:
        if not self.whole:
            raise rebuilding()
        counts = {key: len(self.completed.get(key, ())) for key in achievements}
        return counts, len(self.known_users)

    async def require_whole(self) -> None:
        if not self.whole:
            raise rebuilding()

    async def streak_ranking(self, kind: str, limit: int) -> list[tuple[str, int]]:
        """The documents' streaks ranked as the projector's sorted sets rank them."""
        if not self.whole:
            raise rebuilding()
        field = "length" if kind == "active" else "longest"
        lengths = {
            uid: 0 if doc.streak is None else getattr(doc.streak, field)
            for uid, doc in self.docs.items()
        }
        ranked = sorted(
            (uid for uid, n in lengths.items() if n > 0), key=lambda u: (-lengths[u], u)
        )
        return [(uid, lengths[uid]) for uid in ranked[:limit]]

    def points_of(self, system: str) -> dict[str, int]:
        return {
            uid: doc.points[system].total for uid, doc in self.docs.items() if system in doc.points
        }

    async def points_top(self, system: str) -> int:
        return max(self.points_of(system).values(), default=0)

    async def points_counts(
        self, system: str, ranges: Sequence[tuple[int | None, int | None]]
    ) -> list[int]:
        totals = self.points_of(system).values()
        return [
            sum(1 for t in totals if (lo is None or lo <= t) and (hi is None or t <= hi))
            for lo, hi in ranges
        ]

    async def points_totals_where(self, system: str, attrs: Mapping[str, str]) -> list[int]:
        totals = self.points_of(system)
        return [
            total
            for uid, total in totals.items()
            if all(self.docs[uid].attributes.get(k) == v for k, v in attrs.items())
        ]

    async def names(self, user_ids: Sequence[str]) -> list[str | None]:
        docs = await self.users(user_ids)
        return [None if doc is None else doc.name for doc in docs]

    def score(self, ranking: str, user: str, value: float, reached_ms: int = NOW_MS) -> None:
        """A participant's entry in a ranking (`board|run|group`), as the projector keeps it."""
        self.boards.setdefault(ranking, {})[user] = (value, reached_ms)

    def ordered(self, ranking: str) -> list[Entry]:
        entries = self.boards.get(ranking, {})
        order = sorted(entries, key=lambda u: (-entries[u][0], entries[u][1], u))
        return [(u, entries[u][0]) for u in order]

    async def board_page(self, ranking: str, start: int, stop: int) -> list[Entry]:
        if not self.boards_whole:
            raise boards_rebuilding()
        return self.ordered(ranking)[start:stop]

    async def board_standing(self, ranking: str, user_id: str) -> tuple[int, float] | None:
        if not self.boards_whole:
            raise boards_rebuilding()
        for position, (user, value) in enumerate(self.ordered(ranking)):
            if user == user_id:
                return position, value
        return None

    async def board_history(self, ranking: str, user_id: str) -> list[HistoryDay]:
        if not self.history_whole:
            raise boards_rebuilding()
        return sorted(self.histories.get((ranking, user_id), []), key=lambda d: d.day)

    async def year_ranks(
        self, user_id: str, year: int, series: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        if not self.whole:
            raise rebuilding()
        out = {}
        for kind, key in series:
            scores = self.years.get((kind, key, year), {})
            if user_id in scores:
                mine = scores[user_id]
                out[(kind, key)] = (sum(1 for v in scores.values() if v <= mine), len(scores))
        return out

    async def built(self) -> bool:
        return self.up and self.whole and self.boards_whole and self.history_whole

    async def ping(self) -> bool:
        return self.up


def _conforms(
    log: FakePublisher, answers: FakeWaiter, ranks: FakeRanks, views: FakeViews
) -> tuple[EventLog, AnswerFeed, RankFeed, Views]:
    """Never called: mypy checks here that each fake implements its port."""
    return log, answers, ranks, views


def view(user: str, **fields: object) -> UserView:
    """A view document written out by hand in its JSON layout (`schemas.views.UserView`),
    decoded as the gateway decodes the stored one."""
    doc: dict[str, object] = {
        "userId": user,
        "email": None,
        "name": None,
        "tz": None,
        "deviceTokens": None,
        "subscribeToEmails": None,
        "attributes": {},
        "createdMs": EARLIER_MS,
        "updatedMs": EARLIER_MS,
        "events": 1,
        "totals": {},
        "achievements": {},
        "streak": None,
        "extendedMs": None,
        "history": [],
        "recent": [],
    }
    return decode_view(msgspec.json.encode({**doc, **fields}))


def event_ids() -> Iterator[str]:
    """The ids the fake gateway gives its commands, in order: ev-1, ev-2, ..."""
    return (f"ev-{n}" for n in itertools.count(1))


@dataclass
class Stack:
    """A gateway over fakes, served in-process through Starlette's TestClient."""

    rules: Rules
    publisher: FakePublisher = field(default_factory=FakePublisher)
    waiter: FakeWaiter = field(default_factory=FakeWaiter)
    ranks: FakeRanks | None = None  # a gateway whose rules have leaderboards has one
    views: FakeViews = field(default_factory=FakeViews)
    wait_s: float = 0.2
    max_body: int = 1_048_576

    def gateway(self) -> Gateway:
        ids = event_ids()
        return Gateway(
            self.rules,
            self.publisher,
            self.waiter,
            self.views,
            ranks=self.ranks,
            wait_s=self.wait_s,
            max_body=self.max_body,
            clock=lambda: NOW_MS,
            new_id=lambda: next(ids),
            new_ids=lambda n: [next(ids) for _ in range(n)],
        )

    def client(self, api_key: str | None = API_KEY) -> TestClient:
        app = build_app(self.gateway(), KeyRing([hash_key(API_KEY)]))
        headers = {} if api_key is None else {"X-API-KEY": api_key}
        return TestClient(app, base_url=BASE_URL, headers=headers)
