"""One input partition's user states, in memory.

Restored states are kept as raw changelog bytes and decoded on first use, so taking over a
partition costs one pass over its changelog and no decoding of users that stay idle.
"""

from __future__ import annotations

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
