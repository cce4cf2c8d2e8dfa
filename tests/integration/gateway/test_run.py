"""`podium run` starts the whole stack (broker, Redis, worker, ranker, projector, gateway),
plays the demo through Trophy's SDK and leaves it running with its URL and a working demo
key; then `podium down` stops all of it and nothing is left running or listening."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from deploy.local import _alive, free_port, port_open
from deploy.settings import REPO_DIR
from tests.integration.gateway.conftest import JAR_CACHE

pytestmark = pytest.mark.integration


def test_run_then_down_leaves_nothing_running(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "jars").symlink_to(JAR_CACHE)  # the broker's jars, fetched once already
    ports = {
        "KAFKA_PORT": free_port(),
        "KAFKA_CONTROLLER_PORT": free_port(),
        "REDIS_PORT": free_port(),
        "GATEWAY_PORT": free_port(),
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("PODIUM_")}
    env.update({f"PODIUM_{k}": str(v) for k, v in ports.items()})
    env["PODIUM_RUN_DIR"] = str(run_dir)
    pids: dict[str, int] = {}
    try:
        run = podium(env, "run")
        assert run.returncode == 0, run.stdout + run.stderr
        assert_demo_played_and_serving(run.stdout, ports["GATEWAY_PORT"])
        pids.update({f.stem: int(f.read_text()) for f in run_dir.glob("*/*.pid")})
        assert set(pids) == {"kafka", "redis", "worker", "ranker", "projector", "gateway"}
        assert all(_alive(pid) for pid in pids.values())
    finally:
        down = podium(env, "down", timeout=120)
    assert down.returncode == 0, down.stderr
    assert "stopped:" in down.stdout
    assert not [p for p in pids.values() if _alive(p)]
    assert not [name for name, port in ports.items() if port_open(port)]
    assert list(run_dir.glob("*/*.pid")) == []


def podium(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """The `podium` command line with this run's environment, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", *args],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def assert_demo_played_and_serving(out: str, gateway_port: int) -> None:
    """`podium run`'s output tells the demo's story, and the base URL and demo key it prints
    answer the SDK's routes."""
    assert "ada  wrote 750 words" in out and "unlocked: First words" in out
    assert "idempotent replay" in out and "unlocked: Novella" in out
    assert "completed 'Published' through the API" in out
    # the example rules' xp: welcome 20, 10 per 100 words (20,000 words), novella 500,
    # a poetry chapter 25; journeyman from 1,000 (the launch-week boost ended in 2025)
    xp = 20 + 20_000 // 100 * 10 + 500 + 25
    assert "level up: Journeyman!" in out
    assert f"ada's XP: {xp} (Journeyman)" in out, out
    # top-writers by words: ada 750, then ben 4,200 passes her; ada at 20,000 passes him back
    # (#1, was #2); ben at 10,200 stays #2 (ada's move put him there: his answer's previous
    # rank is the one before his own event)
    assert "Top writers #1 (was #2)" in out, out
    [ben] = [line for line in out.splitlines() if "ben  wrote 6000 words" in line]
    assert "ranks: Top writers #2," in ben, ben
    assert "Top writers: #1 Ada 20000, #2 Ben 10200" in out, out
    base = re.search(r"base URL: (\S+)", out)
    key = re.search(r"demo API key: (\S+)", out)
    assert base and key, out
    assert base.group(1) == f"http://127.0.0.1:{gateway_port}/v1"
    got = httpx.get(
        base.group(1) + "/users/ada/metrics/words-written",
        headers={"X-API-KEY": key.group(1)},
        timeout=10,
    )
    assert got.status_code == 200 and got.json()["current"] == 20_000
