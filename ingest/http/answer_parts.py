"""What every answer Struct (`ingest.http.answers`, `answers_points`, ...) is built from: the
camelCase base and the string formats Trophy's document gives its times and days."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct

Timestamp = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
Day = Annotated[str, Meta(extra_json_schema={"format": "date"})]


class Answer(Struct, rename="camel", kw_only=True):
    """The camelCase base of every answer."""


class KeyValue(Struct):
    key: str
    value: str
