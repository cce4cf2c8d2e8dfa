"""The exact ordering of one ranking (a board's run and breakdown group), and what the
ranking stage emits. Pure: no I/O, no clock; the stage reads `ScoreChanged` from
`podium.scores` and writes the `RankChanged` records `Rankings.apply` returns to
`podium.leaderboards`.

Order: higher value first; on equal values, whoever reached the value first (`time_ms` of the
`ScoreChanged`, the time of the event that took the user there) ranks higher; on equal times
the smaller user id (code point order). The key `(-value, reached_ms, user_id)` is total and
depends only on the participants' current entries, never on the order changes arrived in, so
every rebuild gives the same ordering.

A `RankChanged` is only ever about the mover: the participant whose score changed, from its
rank before to its rank after. The participants it passed each shift by one; no record says
so (that would be O(n) per change), and a reader asks the ordering for their current rank.
On a capped board (`max_participants`) ranks beyond the cap are not on the board (None), so
a mover that enters the top pushes the last one off, and a mover that leaves the top pulls
the next one on: that one participant also gets a record. At most two records per change.

Costs: `SortedList` (a B-tree-like list of sorted sublists): a change O(log n), a rank
O(log n), a page O(log n + k). Figures at 1,000,000 participants: docs/leaderboards.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal

from sortedcontainers import SortedList

from processors.core import retention
from schemas.leaderboards import RankChanged, ScoreChanged, mover_rank_id
from schemas.rules import Leaderboard

Key = tuple[int | Decimal, int, str]  # (-value, reached_ms, user_id)


def _negated(value: Decimal) -> int | Decimal:
    """-value, as an int when whole: ints compare exactly with Decimals and take a quarter
    of the memory (most scores are whole)."""
    if value == value.to_integral_value():
        return -int(value)
    return value.copy_negate()  # exact: `-value` rounds to the context's 28 digits


def _value(key: Key) -> Decimal:
    neg = key[0]
    return neg.copy_negate() if isinstance(neg, Decimal) else Decimal(-neg)


@dataclass(frozen=True, slots=True)
class Entry:
    rank: int
    user_id: str
    value: Decimal


@dataclass(frozen=True, slots=True)
class Move:
    """One participant's rank (None: not on the board) and value before and after a change."""

    user_id: str
    previous_rank: int | None
    rank: int | None
    previous_value: Decimal | None
    value: Decimal | None
    reached_ms: int | None  # when the participant reached `value` (None: not a participant)


class Ranking:
    """The participants of one ranking in exact order. Mutable on purpose (it is the stage's
    table): a persistent tree in Python would cost several times more per change."""

    __slots__ = ("_keys", "_order", "cap")

    def __init__(self, cap: int | None = None) -> None:
        self.cap = cap
        self._keys: dict[str, Key] = {}
        self._order: SortedList = SortedList()

    @staticmethod
    def build(entries: Iterable[tuple[str, Decimal, int]], cap: int | None = None) -> Ranking:
        """A ranking from (user id, value, reached_ms) entries (one per user), in one sort."""
        ranking = Ranking(cap)
        keys = ranking._keys
        for user, value, reached in entries:
            keys[user] = (_negated(value), reached, user)
        ranking._order = SortedList(keys.values())
        return ranking

    @staticmethod
    def of_keys(keys: dict[str, Key], cap: int | None = None) -> Ranking:
        """A ranking owning `keys` (user id -> its sort key), in one sort."""
        ranking = Ranking(cap)
        ranking._keys = keys
        ranking._order = SortedList(keys.values())
        return ranking

    def __len__(self) -> int:
        return len(self._keys)

    def _shown(self, position: int | None) -> int | None:
        if position is None or (self.cap is not None and position > self.cap):
            return None
        return position

    def apply(self, user: str, value: Decimal | None, reached_ms: int) -> list[Move]:
        """Set the user's value (None: remove the user); the moves it causes, mover first.
        Setting the entry the user already has changes nothing and returns no move."""
        old = self._keys.get(user)
        new = None if value is None else (_negated(value), reached_ms, user)
        if old == new:
            return []
        order = self._order
        before = None
        if old is not None:
            at = order.bisect_left(old)  # old is in the list: this is its index
            del order[at]
            before = at + 1
        after = None
        if new is None:
            del self._keys[user]
        else:
            self._keys[user] = new
            after = order.bisect_left(new) + 1
            order.add(new)
        moves = [
            Move(
                user,
                self._shown(before),
                self._shown(after),
                None if old is None else _value(old),
                None if new is None else _value(new),
                reached_ms if new is not None else None,
            )
        ]
        crossed = self._crossed(before, after)
        if crossed is not None:
            moves.append(crossed)
        return moves

    def _crossed(self, before: int | None, after: int | None) -> Move | None:
        """The participant who crossed the cap because the mover went from `before` to
        `after` (exact positions), if any."""
        cap = self.cap
        if cap is None:
            return None
        was_on = before is not None and before <= cap
        is_on = after is not None and after <= cap
        if is_on and not was_on and len(self._order) > cap:
            key = self._order[cap]  # was last on the board, now first off it
            return Move(key[2], cap, None, _value(key), _value(key), key[1])
        if was_on and not is_on and len(self._order) >= cap:
            key = self._order[cap - 1]  # was first off the board, now last on it
            return Move(key[2], None, cap, _value(key), _value(key), key[1])
        return None

    def position(self, user: str) -> int | None:
        """The user's exact place among all participants (1 = first), cap or not."""
        key = self._keys.get(user)
        return None if key is None else self._order.index(key) + 1

    def rank(self, user: str) -> int | None:
        """The user's rank on the board: None when not a participant or beyond the cap."""
        return self._shown(self.position(user))

    def value(self, user: str) -> Decimal | None:
        key = self._keys.get(user)
        return None if key is None else _value(key)

    def page(self, offset: int, limit: int) -> list[Entry]:
        """`limit` entries from rank `offset + 1` on, within the cap."""
        stop = offset + max(limit, 0)
        if self.cap is not None:
            stop = min(stop, self.cap)
        offset = max(offset, 0)
        if stop <= offset:
            return []
        return [
            Entry(offset + i + 1, key[2], _value(key))
            for i, key in enumerate(self._order.islice(offset, stop))
        ]

    def around(self, user: str, offset: int, limit: int) -> list[Entry]:
        """A page whose offset counts from the user's place (Trophy's `userId` query); empty
        when the user is not on the board."""
        rank = self.rank(user)
        if rank is None:
            return []
        return self.page(max(rank - 1 + offset, 0), limit)

    def threshold(self) -> Decimal | None:
        """On a full capped board, the value of the last participant on it: a newcomer must
        exceed it to get on (reaching it later ranks lower). None: no cap, or room left."""
        if self.cap is None or len(self._order) < self.cap:
            return None
        return _value(self._order[self.cap - 1])

    def entries(self) -> Iterator[Entry]:
        """Every participant in order (beyond the cap too)."""
        for i, key in enumerate(self._order):
            yield Entry(i + 1, key[2], _value(key))


class Rankings:
    """Every ranking the stage holds, by `ScoreChanged.ranking`, each capped as its board, and
    the stage's clock: the newest `time_ms` applied, by which finished runs are dropped
    (`processors.core.retention`)."""

    __slots__ = ("_checked_day", "boards", "clock_ms", "left", "rankings")

    def __init__(self, boards: Mapping[str, Leaderboard]) -> None:
        self.boards = boards
        self.rankings: dict[str, Ranking] = {}
        self.clock_ms = 0
        # per ranking, the users whose last entry is a leave: not in the ranking, but their
        # changelog entries are, and a dropped ranking tombstones them too
        self.left: dict[str, set[str]] = {}
        self._checked_day: int | None = None  # the clock's day at the last drop_expired

    def admit(self, change: ScoreChanged) -> bool:
        """Move the clock to the change's time if later; False when the change's run is
        dropped at the clock (it is then ranked nowhere and given no changelog entry)."""
        if change.time_ms > self.clock_ms:
            self.clock_ms = change.time_ms
        return not retention.run_dropped(self.boards.get(change.board), change.run, self.clock_ms)

    def drop_expired(self) -> list[ScoreChanged]:
        """Forget the rankings whose run is dropped at the clock; a leave for each of their
        participants (to precede the tombstone of its changelog entry). Looked at once per
        day of the clock."""
        day = retention.latest_everywhere(self.clock_ms)
        if day == self._checked_day:
            return []
        self._checked_day = day
        leaves = []
        for key in retention.dropped_rankings(self.boards, self.rankings, self.clock_ms):
            users = [e.user_id for e in self.rankings.pop(key).entries()]
            users += sorted(self.left.pop(key, ()))
            leaves += [retention.leave(key, user, self.clock_ms) for user in users]
        return leaves

    def _keep(self, change: ScoreChanged) -> None:
        """Advance the clock; remember a participant whose entry is now a leave."""
        if change.time_ms > self.clock_ms:
            self.clock_ms = change.time_ms
        if change.value is None:
            self.left.setdefault(change.ranking, set()).add(change.user_id)
        elif change.ranking in self.left:
            self.left[change.ranking].discard(change.user_id)

    def get(self, board: str, ranking: str) -> Ranking:
        found = self.rankings.get(ranking)
        if found is None:
            known = self.boards.get(board)
            found = self.rankings[ranking] = Ranking(
                None if known is None else known.max_participants
            )
        return found

    @staticmethod
    def restore(boards: Mapping[str, Leaderboard], changes: Iterable[ScoreChanged]) -> Rankings:
        """The rankings after `changes`, built in one sort per ranking: a ranking's order is a
        function of each participant's last entry alone, so this equals applying the changes
        one by one (what the stage does on taking over a partition, without the records)."""
        rankings = Rankings(boards)
        # per ranking, each participant's last (value, time): a million decoded records
        # would hold several times the memory the ranking itself takes
        last: dict[str, dict[str, Key]] = {}  # per ranking: each participant's sort key
        board_of: dict[str, str] = {}
        for change in changes:
            rankings._keep(change)
            keys = last.get(change.ranking)
            if keys is None:
                board_of[change.ranking] = change.board
                keys = last[change.ranking] = {}
            user = change.user_id
            if change.value is None:
                keys.pop(user, None)
            else:
                keys[user] = (_negated(change.value), change.time_ms, user)
        for ranking, keys in last.items():
            known = boards.get(board_of[ranking])
            rankings.rankings[ranking] = Ranking.of_keys(
                keys, None if known is None else known.max_participants
            )
        return rankings

    def apply(self, change: ScoreChanged) -> list[RankChanged]:
        """Fold one score change into its ranking; the rank changes to publish."""
        self._keep(change)
        ranking = self.get(change.board, change.ranking)
        moves = ranking.apply(change.user_id, change.value, change.time_ms)
        threshold = ranking.threshold() if moves else None
        mover = mover_rank_id(change.id)
        return [
            RankChanged(
                id=mover if i == 0 else f"{mover}:{m.user_id}",
                cause=change.id,
                board=change.board,
                run=change.run,
                group=change.group,
                user_id=m.user_id,
                time_ms=change.time_ms,
                previous_rank=m.previous_rank,
                rank=m.rank,
                previous_value=m.previous_value,
                value=m.value,
                reached_ms=m.reached_ms,
                participants=len(ranking),
                threshold=threshold,
                backfilled=change.backfilled,
            )
            for i, m in enumerate(moves)
        ]
