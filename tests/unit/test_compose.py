"""`deploy/compose.yaml` publishes every port on loopback only: Kafka's PLAINTEXT listener and
Redis have no authentication (reaching them bypasses the gateway's API keys and tenants), and
the gateway speaks plain HTTP (serve other hosts through a TLS proxy in front of it)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from deploy.settings import REPO_DIR

COMPOSE = REPO_DIR / "deploy" / "compose.yaml"
LOOPBACK = {"127.0.0.1", "::1"}


def host_ip(port: Any) -> str:
    """The host address a compose `ports` entry binds ("" for every interface). Short form:
    `[HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTOCOL]` (an IPv6 address in brackets) or a bare
    container port; long form: a mapping with `host_ip`."""
    if isinstance(port, dict):
        return str(port.get("host_ip", ""))
    text = str(port).split("/", 1)[0]
    if text.startswith("["):
        return text[1 : text.index("]")]
    parts = text.split(":")
    return parts[0] if len(parts) == 3 else ""


def published() -> list[tuple[str, Any]]:
    services: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return [(name, port) for name, svc in services.items() for port in svc.get("ports", ())]


@pytest.mark.parametrize(
    ("entry", "address"),
    [
        ("9092:9092", ""),
        ("9092", ""),
        (9092, ""),
        ("127.0.0.1:9092:9092", "127.0.0.1"),
        ("0.0.0.0:9092:9092/tcp", "0.0.0.0"),
        ("[::1]:6379:6379", "::1"),
        ({"target": 8080, "published": 8080}, ""),
        ({"target": 8080, "published": 8080, "host_ip": "127.0.0.1"}, "127.0.0.1"),
    ],
)
def test_host_ip_reads_each_form(entry: Any, address: str) -> None:
    assert host_ip(entry) == address


def test_every_published_port_is_bound_to_loopback() -> None:
    ports = published()
    assert {name for name, _ in ports} >= {"kafka", "redis", "gateway"}
    exposed = [(name, port) for name, port in ports if host_ip(port) not in LOOPBACK]
    assert exposed == [], f"published on every interface: {exposed}"
