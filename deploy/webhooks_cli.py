"""`podium webhooks` and `podium webhooks redeliver` (ingest.webhooks): the dispatcher's config
from the settings, and its subcommands."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from deploy.settings import Settings
from schemas.topics import Names

if TYPE_CHECKING:
    from ingest.webhooks.config import WebhooksConfig


def webhooks_configured(settings: Settings) -> bool:
    return bool(settings.webhook_url or settings.webhook_endpoints)


def webhooks_config(settings: Settings) -> WebhooksConfig:
    from deploy.cli import ops_config
    from ingest.webhooks.config import Retry, WebhooksConfig, endpoints_of

    endpoints = endpoints_of(
        settings.webhook_endpoints, settings.webhook_url, settings.webhook_secret
    )
    return WebhooksConfig(
        settings.bootstrap,
        Names(settings.topic_prefix),
        settings.redis,
        endpoints,
        views_prefix=settings.views_prefix,
        retry=Retry(tuple(settings.webhook_retry_delays_s), settings.webhook_timeout_s),
        max_pending=settings.webhook_max_pending,
        ops=ops_config(settings, settings.webhooks_metrics_port),
    )


def cmd_webhooks(args: argparse.Namespace, settings: Settings) -> int:
    """Deliver Podium's facts as Trophy's webhooks; or send the dead letters again."""
    from deploy.cli import _serve, rules_of, run_async

    config = webhooks_config(settings)
    if not config.endpoints:
        print("podium webhooks: no endpoint (set PODIUM_WEBHOOK_URL)", file=sys.stderr)
        return 2
    if args.action == "redeliver":
        from ingest.webhooks.redeliver import redeliver

        chosen = [e for e in config.endpoints if args.endpoint in (None, e.name)]
        if not chosen:
            print(f"podium webhooks redeliver: no endpoint {args.endpoint!r}", file=sys.stderr)
            return 2
        for name, done in run_async(redeliver(config, chosen)).items():
            print(
                f"{name}: {done.sent} sent again ({done.again} dead-lettered again), "
                f"{done.skipped} without a body skipped"
            )
        return 0
    from ingest.webhooks.dispatcher import run_webhooks

    rules = rules_of(settings)
    return _serve(settings, lambda stop: run_webhooks(config, rules, stop), "webhooks")


def add_webhooks_command(sub: Any) -> None:
    hooks = sub.add_parser("webhooks", help="deliver Podium's facts as Trophy's webhooks")
    hooks.add_argument("action", nargs="?", choices=["redeliver"], help="resend dead letters")
    hooks.add_argument("--endpoint", help="redeliver only this endpoint's dead letters")
    hooks.set_defaults(func=cmd_webhooks)
