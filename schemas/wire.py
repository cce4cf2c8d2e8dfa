"""What every codec in `schemas/` shares: the `InvalidRecord` error, the translation of
msgspec's validation errors into Podium's words (`user.id: expected a string, got a number`),
and the upcaster registry that lifts an older `schema_version` to the current one.

Pure; the error path only (a valid record never reaches anything here but `Upcasters.lift`
when its version is old).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, ParamSpec, TypeVar

import msgspec

R = TypeVar("R")
P = ParamSpec("P")


def camel_namer(**fixed: str) -> Callable[[str], str]:
    """A msgspec `rename` for a record family: each field's wire name in camelCase, except the
    envelope's `schema_version` and the `fixed` names given (`time_ms="time"`)."""
    names = {"schema_version": "schema_version", **fixed}

    def wire_name(name: str) -> str:
        if name in names:
            return names[name]
        head, *rest = name.split("_")
        return head + "".join(part.title() for part in rest)

    return wire_name


class InvalidRecord(ValueError):
    """A record that cannot be decoded or validated; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def undecodable(exc: Exception) -> InvalidRecord:
    """Any other exception raised while decoding bytes, as an invalid record: the bytes are
    what is wrong (JSON nested about 1,000 deep makes msgspec raise `RecursionError`)."""
    if isinstance(exc, RecursionError):
        return InvalidRecord("not decodable: nested too deeply")
    return InvalidRecord(f"not decodable: {type(exc).__name__}")


def decoder(decode: Callable[P, R]) -> Callable[P, R]:
    """`decode`, raising only `InvalidRecord`: whatever else decoding a record raises is the
    record's fault too (so a consumer dead-letters it instead of stopping at it)."""

    @functools.wraps(decode)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return decode(*args, **kwargs)
        except InvalidRecord:
            raise
        except Exception as exc:
            raise undecodable(exc) from None

    return guarded


# --- msgspec's errors in the user's terms ---------------------------------------------------

_TYPES = MappingProxyType(
    {
        "str": "a string",
        "int": "a number",
        "float": "a number",
        "decimal": "a number",
        "bool": "a boolean",
        "null": "null",
        "array": "an array",
        "object": "an object",
    }
)
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]+)`")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<field>[^`]+)`")
_TYPE = re.compile(r"Expected `(?P<expected>[^`]+)`, got `(?P<got>[^`]+)`")
_LENGTH = re.compile(r"Expected `(?P<what>[^`]+)` of length (?P<op>[<>]=) (?P<n>\d+)")
_BOUND = re.compile(r"Expected `(?P<what>int|float)` (?P<op>[<>]=?) (?P<n>-?\d+)")
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")


@dataclass(frozen=True, slots=True)
class Problem:
    """One validation failure: where (a dotted path), what kind, and the words for it.

    `kind` is one of "missing", "type", "length", "bounds", "choice", "number", "unknown".
    `value` is the offending raw value (None when absent)."""

    path: str
    kind: str
    expected: str = ""
    got: str = ""
    value: Any = None
    limit: str = ""


def kind_of(raw: object) -> str:
    """A JSON value's kind in words: 'a string', 'a number', 'null', ..."""
    if raw is None:
        return "null"
    if isinstance(raw, bool):
        return "a boolean"
    if isinstance(raw, int | float):
        return "a number"
    kinds: dict[type, str] = {str: "a string", list: "an array", dict: "an object"}
    return kinds.get(type(raw), "a value")


def _walk(doc: object, at: str) -> tuple[list[str], object]:
    """The dotted path segments of msgspec's `$...` path, resolving `[...]` (a map key msgspec
    does not name) to the first key whose value is not a string; and the value found there."""
    names: list[str] = []
    node = doc
    for name, index in _SEGMENT.findall(at):
        if name:
            names.append(name)
            node = node.get(name) if isinstance(node, dict) else None
        elif index == "...":
            entries = node if isinstance(node, dict) else {}
            bad = next((k for k, v in entries.items() if type(v) is not str), None)
            if bad is None:  # a constraint on the strings: the longest value broke it
                bad = max(entries, key=lambda k: len(str(entries[k])), default="?")
            names.append(str(bad))
            node = entries.get(bad)
        else:
            if names:
                names[-1] += f"[{index}]"
            else:
                names.append(f"[{index}]")
            i = int(index)
            node = node[i] if isinstance(node, list) and i < len(node) else None
    return names, node


def problem_of(exc: msgspec.ValidationError, doc: object) -> Problem:
    """The `Problem` msgspec's message describes; `doc` is the decoded JSON (for the value)."""
    message, _, at = str(exc).partition(" - at `")
    names, value = _walk(doc, at.rstrip("`"))
    if m := _MISSING.match(message):
        return Problem(".".join([*names, m["field"]]), "missing")
    if m := _UNKNOWN.match(message):
        path = ".".join(names)
        return Problem(path, "unknown", value=m["field"])
    path = ".".join(names)
    if m := _LENGTH.match(message):
        op = "at most" if m["op"] == "<=" else "at least"
        return Problem(
            path,
            "length",
            _TYPES.get(m["what"], m["what"]),
            kind_of(value),
            value,
            f"{op} {m['n']}",
        )
    if m := _BOUND.match(message):
        return Problem(path, "bounds", "a number", kind_of(value), value, f"{m['op']} {m['n']}")
    if m := _TYPE.match(message):
        got = (
            kind_of(value)
            if value is not None or m["got"] == "null"
            else _TYPES.get(m["got"], m["got"])
        )
        return Problem(path, "type", _expected(m["expected"]), got, value)
    if message.startswith(("Invalid enum value", "Invalid value")):
        return Problem(path, "choice", got=kind_of(value), value=value)
    if message.startswith("Invalid decimal"):
        return Problem(path, "number", got=kind_of(value), value=value)
    return Problem(path, "invalid", got=kind_of(value), value=message)


def _expected(types: str) -> str:
    """msgspec's `str | null` as 'a string' (null is always allowed where it says so)."""
    names = [t for t in types.split(" | ") if t != "null"] or ["null"]
    return " or ".join(_TYPES.get(t, t) for t in names)


def generic_words(p: Problem) -> str:
    """The default wording of a problem (without its path)."""
    if p.kind == "missing":
        return "missing"
    if p.kind == "unknown":
        return f"unknown field {p.value!r}"
    if p.kind == "type":
        return f"expected {p.expected}, got {p.got}"
    if p.kind == "length":
        noun = "characters" if p.expected == "a string" else "items"
        if isinstance(p.value, dict):
            noun = "entries"
        size = len(p.value) if isinstance(p.value, str | list | dict) else "?"
        return f"expected {p.limit} {noun}, got {size}"
    if p.kind == "bounds":
        return f"out of range: {p.value} (expected {p.limit})"
    if p.kind == "choice":
        return f"unknown {str(p.value)[:40]!r}"
    if p.kind == "number":
        return f"not a number: {str(p.value)[:40]!r}"
    return f"invalid: {p.value}"


Words = Mapping[tuple[str, str], "str | Callable[[Problem], str]"]
"""(path, kind) -> a template over the `Problem`'s fields ("out of range: {value}"), or a
function of the problem. Paths match with their indexes removed (`events[].value`); kind "*"
matches every kind."""
_INDEX = re.compile(r"\[\d+\]")


def words_for(p: Problem, words: Words) -> str:
    """`path: words` of a problem, a field's own wording first (`words`), else the generic."""
    path = _INDEX.sub("[]", p.path)
    template = words.get((path, p.kind)) or words.get((path, "*"))
    if template is None:
        text = generic_words(p)
    elif isinstance(template, str):
        text = template.format_map(_fields(p))
    else:
        text = template(p)
    return f"{p.path}: {text}" if p.path else text


def _fields(p: Problem) -> dict[str, Any]:
    return {
        "path": p.path,
        "expected": p.expected,
        "got": p.got,
        "value": p.value,
        "value40": str(p.value)[:40],
        "limit": p.limit,
    }


def explain(exc: msgspec.ValidationError, raw: bytes, words: Words) -> str:
    """Podium's reason for msgspec's validation error on `raw` (JSON bytes)."""
    try:
        doc = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        doc = None
    return words_for(problem_of(exc, doc), words)


def convert_slowly(
    lifted: Any,
    decoded: Any,
    exc: msgspec.ValidationError | None,
    raw: bytes,
    target: Any,
    words: Words,
) -> Any:
    """The codecs' slow path, after the fast decode of `raw` failed (`exc`) or needs an
    upcast (`exc` None): `decoded` is `raw` as plain JSON, `lifted` that after the upcasters.
    When the upcasters changed it (or there was no complaint yet), `lifted` is converted to
    `target`; otherwise, or when that fails too, msgspec's complaint is raised as an
    `InvalidRecord` in Podium's words."""
    if lifted is not decoded or exc is None:
        try:
            return msgspec.convert(lifted, target)
        except msgspec.ValidationError as again:
            raise InvalidRecord(explain(again, msgspec.json.encode(lifted), words)) from None
    raise InvalidRecord(explain(exc, raw, words))


def not_json(exc: msgspec.DecodeError) -> str:
    """Podium's reason for bytes that are not JSON at all."""
    return f"not JSON: {str(exc).removeprefix('JSON is malformed: ')}"


# --- upcasters ------------------------------------------------------------------------------

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Upcasters:
    """Pure functions lifting a decoded JSON object from version n to n + 1 (`steps[n]`),
    so records written by an older Podium still load. Old bytes are never rewritten."""

    current: int
    field: str
    steps: Mapping[int, Upcaster]

    def lift(self, obj: dict[str, Any]) -> dict[str, Any]:
        """`obj` at the current version; raises InvalidRecord when it cannot get there."""
        if self.field not in obj:
            raise InvalidRecord(f"{self.field}: missing")
        version = obj.get(self.field)
        while version != self.current:
            step = self.steps.get(version) if type(version) is int else None
            if step is None:
                raise InvalidRecord(
                    f"{self.field}: unsupported {version!r} (expected {self.current})"
                )
            obj = step(obj)
            if obj.get(self.field) == version:
                raise InvalidRecord(f"{self.field}: upcaster from {version} did not advance")
            version = obj.get(self.field)
        return obj


class TaggedCodec(Generic[R]):
    """The codec of a tagged union of record types (`type` names the member): msgspec on the
    fast path; on failure, the upcasters and then msgspec's complaint in Podium's words,
    prefixed with the record type's name."""

    def __init__(self, union: Any, names: Mapping[object, str], upcasters: Upcasters) -> None:
        self._union = union
        self._names = names
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder(union)
        self.upcasters = upcasters

    def encode(self, rec: R) -> bytes:
        return self._encoder.encode(rec)

    @decoder
    def decode(self, raw: bytes) -> R:
        """Decode one record; raises `InvalidRecord` (only) with the reason."""
        try:
            rec: R = self._decoder.decode(raw)
        except msgspec.ValidationError as exc:
            return self._decode_slowly(raw, exc)
        except msgspec.DecodeError as exc:
            raise InvalidRecord(not_json(exc)) from None
        return rec

    def _decode_slowly(self, raw: bytes, exc: msgspec.ValidationError) -> R:
        """The error path (and the upcast path): the version first, then msgspec's complaint."""
        obj = msgspec.json.decode(raw)
        if type(obj) is not dict:
            raise InvalidRecord(f"not a JSON object: got {kind_of(obj)}")
        lifted = self.upcasters.lift(obj)  # its refusal is raised as it is, unprefixed
        try:
            rec: R = convert_slowly(lifted, obj, exc, raw, self._union, {})
        except InvalidRecord as err:
            name = self._names.get(obj.get("type"))
            raise InvalidRecord(err.reason if name is None else f"{name}: {err.reason}") from None
        return rec
