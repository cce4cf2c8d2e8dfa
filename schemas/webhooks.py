"""The webhook dispatcher's records (`ingest.webhooks`).

- `WebhookDeadLetter` on `podium.webhooks.dlq`: a delivery that exhausted its retries (with the
  exact body it sent, so `podium webhooks redeliver` sends the same bytes again under the same
  delivery id), or a fact record the dispatcher could not decode (no body; `original` holds the
  record's bytes).

The delivery id is deterministic: `delivery_id(endpoint, fact id, type)`, the same for every
attempt, every replay of the topic and every redelivery, so a receiver can deduplicate.

Wire format as `schemas.records`: a JSON object with "type" ("webhook_dead_letter"),
"schema_version" and camelCase fields; times integer epoch milliseconds UTC.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final, Literal

import msgspec

from schemas.records import wire_name
from schemas.wire import TaggedCodec, Upcasters

SCHEMA_VERSION: Final = 1


def delivery_id(endpoint: str, fact_id: str, webhook_type: str) -> str:
    """The id of the delivery of one webhook of one fact to one endpoint: 32 hex characters
    of SHA-256 (a fact may drive two types, e.g. points.changed and points.level_changed)."""
    raw = "\x1f".join((endpoint, fact_id, webhook_type)).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class _Record(msgspec.Struct, frozen=True, kw_only=True, rename=wire_name, tag_field="type"):
    """The envelope's settings, as in `schemas.records` (`schema_version` declared first)."""


class WebhookDeadLetter(_Record, frozen=True, kw_only=True, tag="webhook_dead_letter"):
    """A webhook the dispatcher gave up on. id = the delivery id (`delivery_id`); for a fact
    record that does not decode, f"{endpoint}:{topic}:{partition}:{offset}" and no body."""

    schema_version: Literal[1] = SCHEMA_VERSION
    id: str
    endpoint: str  # the endpoint's name in the configuration
    reason: str  # the last attempt's outcome ("HTTP 500", "timeout", ...) or the decode error
    topic: str  # where the fact is
    partition: int
    offset: int
    time_ms: int  # when it was dead-lettered
    attempts: int = 0
    webhook_type: str | None = None
    user_id: str | None = None
    fact_id: str | None = None
    body: str | None = None  # the JSON body as sent (UTF-8 text)
    original: str | None = None  # base64 of an undecodable fact record's value
    backfilled: bool = False

    @staticmethod
    def undecodable(
        endpoint: str, reason: str, topic: str, partition: int, offset: int, value: bytes, now: int
    ) -> WebhookDeadLetter:
        return WebhookDeadLetter(
            id=f"{endpoint}:{topic}:{partition}:{offset}",
            endpoint=endpoint,
            reason=reason,
            topic=topic,
            partition=partition,
            offset=offset,
            time_ms=now,
            original=base64.b64encode(value[:1024]).decode("ascii"),
        )


UPCASTERS = Upcasters(current=SCHEMA_VERSION, field="schema_version", steps={})
_CODEC: TaggedCodec[WebhookDeadLetter] = TaggedCodec(
    WebhookDeadLetter, {"webhook_dead_letter": "WebhookDeadLetter"}, UPCASTERS
)


def encode_webhook_record(rec: WebhookDeadLetter) -> bytes:
    return _CODEC.encode(rec)


def decode_webhook_record(raw: bytes) -> WebhookDeadLetter:
    """Decode a webhook dead letter; raises `InvalidRecord` with the reason."""
    return _CODEC.decode(raw)
