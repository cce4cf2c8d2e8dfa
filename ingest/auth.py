"""API keys: minted as `<prefix>.<secret>`, configured as SHA-256 hashes (hex), compared in
constant time. The gateway never stores or logs a key itself, only the hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def mint_key() -> tuple[str, str]:
    """A new API key and the hash to configure (`PODIUM_API_KEY_HASHES`)."""
    key = f"pk_{secrets.token_hex(4)}.{secrets.token_urlsafe(24)}"
    return key, hash_key(key)


class KeyRing:
    """The configured key hashes; `check` compares against every one, in constant time.
    `tenants` limits some keys (by hash) to the tenants they may act for."""

    def __init__(
        self, hashes: Iterable[str], tenants: Mapping[str, Iterable[str]] | None = None
    ) -> None:
        self._hashes = tuple(bytes.fromhex(h.strip().lower()) for h in hashes if h.strip())
        self._tenants = {
            bytes.fromhex(h.strip().lower()): frozenset(t) for h, t in (tenants or {}).items()
        }

    def tenants(self, presented: str) -> frozenset[str] | None:
        """The tenants a checked key may act for ("" is the default tenant); None: every one."""
        if not self._tenants:
            return None
        return self._tenants.get(_digest(presented))

    def __bool__(self) -> bool:
        return bool(self._hashes)

    def check(self, presented: str | None) -> bool:
        if not presented:
            return False
        digest = _digest(presented)
        found = False
        for known in self._hashes:  # no early exit: the time does not depend on the match
            found |= hmac.compare_digest(digest, known)
        return found


def _digest(presented: str) -> bytes:
    return hashlib.sha256(presented.encode("utf-8", "surrogateescape")).digest()
