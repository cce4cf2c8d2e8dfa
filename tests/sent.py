"""An answer as a client receives it: encoded as the gateway encodes it, decoded as plain
JSON (dicts, lists, strings, numbers)."""

from __future__ import annotations

from typing import Any

import msgspec


def sent(answer: object) -> Any:
    return msgspec.json.decode(msgspec.json.encode(answer))
