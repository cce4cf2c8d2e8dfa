"""The headers of a webhook delivery. Pure.

- `X-Trophy-Signature`: base64 of the HMAC-SHA256 of the raw body under the endpoint's secret,
  as Trophy computes it, so a receiver written for Trophy verifies Podium's deliveries
  unchanged.
- `X-Podium-Delivery-Id`: `schemas.webhooks.delivery_id` of the endpoint, the fact and the
  type: the same for every attempt, replay and redelivery (a receiver deduplicates by it;
  Trophy's payloads carry no id).
- `X-Podium-Timestamp`: when this attempt was sent, in epoch seconds, and
  `X-Podium-Signature`: base64 HMAC-SHA256 of f"{delivery id}.{timestamp}.{body}", so a
  receiver that wants to refuse a replayed request can trust the id and the time (Trophy's
  signature covers the body only).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIGNATURE = "X-Trophy-Signature"
DELIVERY_ID = "X-Podium-Delivery-Id"
TIMESTAMP = "X-Podium-Timestamp"
PODIUM_SIGNATURE = "X-Podium-Signature"
WEBHOOK_TYPE = "X-Podium-Webhook-Type"
TENANT = "X-Podium-Tenant"


def trophy_signature(body: bytes, secret: str) -> str:
    """Trophy's `X-Trophy-Signature` of a body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def podium_signature(body: bytes, secret: str, delivery: str, at_s: int) -> str:
    """`X-Podium-Signature`: the body, the delivery id and the timestamp signed together."""
    signed = f"{delivery}.{at_s}.".encode() + body
    return trophy_signature(signed, secret)


def headers(
    body: bytes, secret: str, delivery: str, webhook_type: str, at_s: int, tenant: str | None = None
) -> dict[str, str]:
    """Every header of one attempt; `X-Podium-Tenant` for a tenant's user (`schemas.tenants`:
    the payload's `user.id` is the id the tenant knows)."""
    sent = {
        "Content-Type": "application/json",
        SIGNATURE: trophy_signature(body, secret),
        DELIVERY_ID: delivery,
        TIMESTAMP: str(at_s),
        PODIUM_SIGNATURE: podium_signature(body, secret, delivery, at_s),
        WEBHOOK_TYPE: webhook_type,
    }
    if tenant:
        sent[TENANT] = tenant
    return sent
