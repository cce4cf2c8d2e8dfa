"""`deploy/compose.yaml` publishes every port on loopback only: Kafka's PLAINTEXT listener and
Redis have no authentication (reaching them bypasses the gateway's API keys and tenants), and
the gateway speaks plain HTTP (serve other hosts through a TLS proxy in front of it). It
follows the compose specification (check-jsonschema's copy of its schema), runs the processes
`make run` runs with a healthcheck each, and leaves the tick to cron."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.cli import build_parser
from deploy.settings import REPO_DIR, Settings
from deploy.stack import Stack

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


# --- the compose specification, and `make run`'s processes ---------------------------------

METRICS_PORTS = {"gateway": 9100, "worker": 9101, "ranker": 9102, "projector": 9103}
"""The metrics ports issue 21 fixes for each process."""
COMING = {"PODIUM_METRICS_HOST"}
"""A setting issue 21 names that the metrics branch adds."""


def services() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = yaml.safe_load(COMPOSE.read_text())["services"]
    return found


def test_the_file_follows_the_compose_specification() -> None:
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    if checker is None:
        pytest.skip("check-jsonschema is missing (pip, in the dev extra)")
    done = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_it_runs_what_make_run_runs_and_the_tick_on_demand() -> None:
    commands = {name: tuple(svc["command"]) for name, svc in services().items() if "build" in svc}
    local = {app.name: tuple(app.command) for app in Stack.local(Settings()).apps}
    for name, command in local.items():
        assert commands[name][: len(command)] == command, name
    assert commands["topics"] == ("up",)
    assert commands["tick"] == ("tick",)
    assert services()["tick"]["profiles"] == ["tick"]  # not started by `up`: cron runs it
    for command in commands.values():
        build_parser().parse_args(list(command))


def test_each_process_is_health_checked_on_its_metrics_port() -> None:
    for process, port in METRICS_PORTS.items():
        service = services()[process]
        assert service["healthcheck"]["test"] == [
            "CMD",
            "python",
            "-m",
            "deploy.healthcheck",
            str(port),
        ]
        assert f"127.0.0.1:{port}:{port}" in service["ports"], process
    assert services()["redis"]["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]
    assert "healthcheck" in services()["kafka"]


def test_the_processes_read_the_mounted_rules_and_known_settings() -> None:
    known = {f"PODIUM_{name.upper()}" for name in Settings.model_fields} | COMING
    for name, service in services().items():
        if "build" not in service:
            continue
        env = service["environment"]
        assert set(env) - known == set(), name
        if name != "topics":
            assert f"./rules.example.toml:{env['PODIUM_RULES_PATH']}:ro" in service["volumes"]
            assert service["read_only"] is True, name
