"""One input partition's user states, in memory.

Restored states are kept as raw changelog bytes and decoded on first use, so taking over a
partition costs one pass over its changelog and no decoding of users that stay idle.
"""

from __future__ import annotations

from collections.abc import Iterator

from schemas.state import UserState, decode_state


class StateStore:
    __slots__ = ("_live", "_raw")

    def __init__(self, raw: dict[str, bytes] | None = None) -> None:
        self._raw: dict[str, bytes] = raw if raw is not None else {}
        self._live: dict[str, UserState] = {}

    def get(self, user_id: str) -> UserState | None:
        state = self._live.get(user_id)
        if state is None:
            raw = self._raw.pop(user_id, None)
            if raw is not None:
                state = self._live[user_id] = decode_state(raw)
        return state

    def get_live(self, user_id: str) -> UserState:
        return self._live[user_id]

    def put(self, user_id: str, state: UserState) -> None:
        self._live[user_id] = state

    def __len__(self) -> int:
        return len(self._raw) + len(self._live)

    def user_ids(self) -> Iterator[str]:
        yield from self._raw
        yield from self._live

    def items(self) -> Iterator[tuple[str, UserState]]:
        """Every state, decoded (for the ticker and for tests; not on the hot path)."""
        for uid in list(self._raw):
            self.get(uid)
        yield from list(self._live.items())
