"""One input partition's user states, in memory.

Restored states are kept as raw changelog bytes and decoded on first use, so taking over a
partition costs one pass over its changelog and no decoding of users that stay idle. Bytes
that do not decode stay as they are (`StateUndecodable` is raised, the bytes are kept): the
user's state is never replaced by a new one, so it can be decoded once fixed.
"""

from __future__ import annotations

from schemas.state import UserState, decode_state
from schemas.wire import InvalidRecord


class StateUndecodable(Exception):
    """A user's restored state does not decode; its bytes are kept, their events must wait."""

    def __init__(self, user_id: str, reason: str) -> None:
        super().__init__(f"the state of user {user_id[:64]!r} does not decode: {reason}")
        self.user_id = user_id
        self.reason = reason


class StateStore:
    __slots__ = ("_live", "_raw")

    def __init__(self, raw: dict[str, bytes] | None = None) -> None:
        self._raw: dict[str, bytes] = raw if raw is not None else {}
        self._live: dict[str, UserState] = {}

    def get(self, user_id: str) -> UserState | None:
        """The user's state (None: a new user); raises `StateUndecodable`, keeping the bytes."""
        state = self._live.get(user_id)
        if state is None:
            raw = self._raw.get(user_id)
            if raw is not None:
                try:
                    state = decode_state(raw)
                except InvalidRecord as err:
                    raise StateUndecodable(user_id, err.reason) from None
                self._live[user_id] = state
                del self._raw[user_id]
        return state

    def __len__(self) -> int:
        """Users held, decoded or not."""
        return len(self._raw) + len(self._live)

    def get_live(self, user_id: str) -> UserState:
        return self._live[user_id]

    def put(self, user_id: str, state: UserState) -> None:
        self._live[user_id] = state

    def restore(self, user_id: str, state: UserState | None) -> None:
        """Put back a state taken before a batch (None: the user was new)."""
        if state is None:
            self._live.pop(user_id, None)
        else:
            self._live[user_id] = state
