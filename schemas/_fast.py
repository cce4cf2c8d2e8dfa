"""Fast positional constructors for frozen slots dataclasses, for the hot path.

`cls(...)` of a frozen dataclass sets every field through `object.__setattr__`, which costs
about 6x a plain slot store. `maker(cls)` returns a function taking every field positionally,
in declaration order (no defaults, no checks), that fills a mutable twin class with the very
same slots and then re-labels it as `cls`. The result is a genuine `cls` instance: equality,
repr, hashing and `FrozenInstanceError` behave exactly as for `cls(...)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def maker(cls: type[T]) -> Callable[..., T]:
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    slots = getattr(cls, "__slots__", None)
    if not dataclasses.is_dataclass(cls) or tuple(slots or ()) != tuple(names):
        raise TypeError(f"{cls.__name__}: needs a slots dataclass")
    twin = type(f"_{cls.__name__}Twin", (), {"__slots__": tuple(names)})
    params = ", ".join(names)
    body = "".join(f"    o.{n} = {n}\n" for n in names)
    source = f"def make({params}):\n    o = _twin()\n{body}    o.__class__ = _cls\n    return o\n"
    namespace: dict[str, Any] = {"_twin": twin, "_cls": cls}
    exec(source, namespace)  # generated from field names only; no outside input
    make: Callable[..., T] = namespace["make"]
    make.__doc__ = f"{cls.__name__}({params}), fast; every field positional."
    return make
