"""API keys: minted as `<prefix>.<secret>`, configured as SHA-256 hashes (hex), compared in
constant time. The gateway never stores or logs a key itself, only the hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def mint_key() -> tuple[str, str]:
    """A new API key and the hash to configure (`PODIUM_API_KEY_HASHES`)."""
    key = f"pk_{secrets.token_hex(4)}.{secrets.token_urlsafe(24)}"
    return key, hash_key(key)


class KeyRing:
    """The configured key hashes; `check` compares against every one, in constant time."""

    def __init__(self, hashes: Iterable[str]) -> None:
        self._hashes = tuple(bytes.fromhex(h.strip().lower()) for h in hashes if h.strip())

    def __bool__(self) -> bool:
        return bool(self._hashes)

    def check(self, presented: str | None) -> bool:
        if not presented:
            return False
        digest = hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
        found = False
        for known in self._hashes:  # no early exit: the time does not depend on the match
            found |= hmac.compare_digest(digest, known)
        return found
