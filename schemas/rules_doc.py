"""What the rules parsers share: `RulesError`, and `Doc`, the helpers that read one value of a
parsed TOML document and name its place in the file when it is wrong
(`rules.toml: achievements[3].metric: unknown metric 'word-written'`)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any


class RulesError(ValueError):
    """An invalid rules file; the message names the file, the path inside it and the fault."""


KEY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class Doc:
    """Helpers that know the source name for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, path: str, message: str) -> RulesError:
        return RulesError(
            f"{self.source}: {path}: {message}" if path else f"{self.source}: {message}"
        )

    def table(self, raw: object, path: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.error(path, f"expected a table, got {kind_of(raw)}")
        for key in raw:
            if key not in allowed:
                where = f"{path}.{key}" if path else key
                raise self.error(where, f"unknown key (expected one of {', '.join(allowed)})")
        return raw

    def string(self, raw: object, path: str, *, key: bool = False) -> str:
        if raw is None:
            raise self.error(path, "missing")
        if not isinstance(raw, str) or not raw:
            raise self.error(path, f"expected a non-empty string, got {kind_of(raw)}")
        if key and not KEY_PATTERN.match(raw):
            raise self.error(path, f"invalid key {raw!r} (letters, digits, '-', '_', '.')")
        return raw

    def integer(self, raw: object, path: str, low: int, high: int) -> int:
        if raw is None:
            raise self.error(path, "missing")
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise self.error(path, f"expected an integer, got {kind_of(raw)}")
        if not low <= raw <= high:
            raise self.error(path, f"must be between {low} and {high}, got {raw}")
        return raw

    def number(self, raw: object, path: str) -> Decimal:
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise self.error(path, f"expected a number, got {kind_of(raw)}")
        try:
            value = Decimal(repr(raw) if isinstance(raw, float) else str(raw))
        except InvalidOperation:
            raise self.error(path, f"not a number: {raw!r}") from None
        if not value.is_finite():
            raise self.error(path, f"must be finite, got {raw!r}")
        return value

    def str_map(self, raw: object, path: str) -> dict[str, str]:
        if not isinstance(raw, dict):
            raise self.error(path, f"expected a table of strings, got {kind_of(raw)}")
        for k, v in raw.items():
            if not isinstance(v, str):
                raise self.error(f"{path}.{k}", f"expected a string, got {kind_of(v)}")
        return dict(raw)


def kind_of(raw: object) -> str:
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, int | float):
        return f"the number {raw}"
    if isinstance(raw, str):
        return f"the string {raw!r}" if raw else "an empty string"
    if isinstance(raw, list):
        return "an array"
    if isinstance(raw, dict):
        return "a table"
    return type(raw).__name__
