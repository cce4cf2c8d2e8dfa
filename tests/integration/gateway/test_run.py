"""`podium run` starts the whole stack (broker, Redis, worker, ranker, projector, gateway),
plays the demo through Trophy's SDK and leaves it running with its URL and a working demo
key; then `podium down` stops all of it and nothing is left running or listening. It works
every time: again after `podium down`, and after a crash (kill -9) that took Redis's files."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from deploy.local import _alive, free_port, port_open
from deploy.settings import REPO_DIR
from tests.integration.gateway.conftest import JAR_CACHE

pytestmark = pytest.mark.integration


SERVICES = {"kafka", "redis", "worker", "ranker", "projector", "gateway"}
REBUILT = "epoch marker is missing"  # the projector's log line when it rebuilds a view


def test_run_again_after_down_and_after_a_kill(tmp_path: Path) -> None:
    """`podium run` three times on one run folder: fresh; after `podium down` (Redis kept the
    views: nothing is rebuilt); after a kill -9 of every process with Redis's files removed
    too (the projector rebuilds the views, the demo waits for it). Each run plays the same
    story in a tenant of its own and says "Podium is running"; `podium down` then leaves
    nothing running or listening."""
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
    for process in ("GATEWAY", "WORKER", "RANKER", "PROJECTOR"):
        env[f"PODIUM_{process}_METRICS_PORT"] = "0"  # a free port each: `podium status` says
    log = run_dir / "projector" / "projector.log"
    try:
        first = run_demo(env, ports["GATEWAY_PORT"])
        rebuilds = log.read_text().count(REBUILT)
        assert rebuilds == 3  # the views, the boards, the histories: built once, from nothing
        stop_all(env, ports, run_dir)
        assert story(run_demo(env, ports["GATEWAY_PORT"])) == story(first)
        assert log.read_text().count(REBUILT) == rebuilds, "Redis lost the views on down"
        crash(run_dir, ports)
        shutil.rmtree(run_dir / "redis" / "appendonlydir")  # and Redis comes back empty
        assert story(run_demo(env, ports["GATEWAY_PORT"])) == story(first)
        assert log.read_text().count(REBUILT) == 2 * rebuilds  # rebuilt, and waited for
        stop_all(env, ports, run_dir)
    finally:
        podium(env, "down", timeout=120)


def run_demo(env: dict[str, str], gateway_port: int) -> str:
    """`podium run`'s output, asserted to tell the demo's story."""
    run = podium(env, "run")
    assert run.returncode == 0, run.stdout + run.stderr
    assert_demo_played_and_serving(run.stdout, gateway_port)
    return run.stdout


def story(out: str) -> list[str]:
    """The demo's lines, each run's tenant left out."""
    lines = out.split("demo through", 1)[1].split("Podium is running.", 1)[0].splitlines()
    return lines[1:]


def stop_all(env: dict[str, str], ports: dict[str, int], run_dir: Path) -> None:
    """`podium down`, and nothing of it is left running or listening."""
    pids = {f.stem: int(f.read_text()) for f in run_dir.glob("*/*.pid")}
    assert set(pids) == SERVICES and all(_alive(pid) for pid in pids.values())
    assert_status_names_metrics(env)
    down = podium(env, "down", timeout=120)
    assert down.returncode == 0 and "stopped:" in down.stdout, down.stderr
    assert not [p for p in pids.values() if _alive(p)]
    assert not [name for name, port in ports.items() if port_open(port)]
    assert list(run_dir.glob("*/*.pid")) == []


def crash(run_dir: Path, ports: dict[str, int]) -> None:
    """kill -9 of every process of the stack (their pid files stay), until they are gone and
    their ports closed."""
    pids = {f.stem: int(f.read_text()) for f in run_dir.glob("*/*.pid")}
    assert set(pids) == SERVICES and all(_alive(pid) for pid in pids.values())
    for pid in pids.values():
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while [p for p in pids.values() if _alive(p)] or [p for p in ports.values() if port_open(p)]:
        assert time.monotonic() < deadline, "the killed processes did not go"
        time.sleep(0.1)


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
    assert "users per XP level: Apprentice 0, Journeyman 2, Master 0" in out, out
    assert "\nPodium is running.\n" in out
    base = re.search(r"base URL: (\S+)", out)
    key = re.search(r"demo API key: (\S+)", out)
    tenant = re.search(r"demo tenant: (\S+)", out)
    assert base and key and tenant, out
    assert base.group(1) == f"http://127.0.0.1:{gateway_port}/v1"
    headers = {"X-API-KEY": key.group(1), "Tenant-ID": tenant.group(1)}
    got = httpx.get(base.group(1) + "/users/ada/metrics/words-written", headers=headers, timeout=10)
    assert got.status_code == 200 and got.json()["current"] == 20_000
    assert_page_shows_the_writers(out, base.group(1).removesuffix("/v1"))


def assert_page_shows_the_writers(out: str, root: str) -> None:
    """The live page's link that `podium run` prints signs in for the demo's tenant: the page
    is served, and its overview has the demo's writers on the board."""
    link = re.search(r"live page: (\S+)", out)
    assert link, out
    page, _, fragment = link.group(1).partition("#")
    assert page == root + "/dashboard"
    given = dict(part.split("=", 1) for part in fragment.split("&"))
    assert httpx.get(page, timeout=10).status_code == 200
    headers = {"X-API-KEY": given["key"], "Tenant-ID": given["tenant"]}
    got = httpx.get(
        root + "/dashboard/api/overview",
        params={"userId": given["user"]},
        headers=headers,
        timeout=10,
    ).json()
    board = next(b for b in got["boards"] if b["key"] == "top-writers")
    top = [(r["userName"], r["value"]) for r in board["top"]]
    assert (top, board["user"]) == (
        [("Ada", 20_000), ("Ben", 10_200)],
        {"rank": 1, "value": 20_000},
    )


def assert_status_names_metrics(env: dict[str, str]) -> None:
    """`podium status` prints each Podium process's metrics URL (a free port each, chosen at
    start), and each answers with Prometheus text and a live /livez."""
    lines = podium(env, "status").stdout.splitlines()
    urls = {}
    for line in lines:
        found = re.search(r"metrics (http://127\.0\.0\.1:\d+/metrics)", line)
        if found:
            urls[line.split()[0]] = found.group(1)
    assert set(urls) == {"worker", "ranker", "projector", "gateway"}, lines
    for name, url in urls.items():
        text = httpx.get(url, timeout=10).text
        assert "podium_build_info{" in text and f'podium_process_ready{{process="{name}"}}' in text
        assert httpx.get(url.replace("/metrics", "/livez"), timeout=10).status_code == 200
