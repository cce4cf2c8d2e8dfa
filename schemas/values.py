"""Evolving frozen values: `replace(value, **changes)` is the one way the pure folds build the
next version of a state or record (msgspec's own `structs.replace`: a C-speed keyword copy),
and `Value` the base of the folds' own in-process values (never encoded).

The folds import them from here so that `processors/` depends on `schemas` alone, not on the
codec library behind it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from msgspec import Struct
from msgspec.structs import replace as _replace

V = TypeVar("V", bound=Struct)


class Value(Struct, frozen=True):
    """A frozen, slotted value built on the fold's hot path: constructed and read at C speed
    (a frozen dataclass sets each field through `object.__setattr__`, a named tuple reads
    each through a descriptor call)."""


def replace(value: V, /, **changes: Any) -> V:
    """`value` with the named fields changed (the others shared, not copied)."""
    return _replace(value, **changes)
