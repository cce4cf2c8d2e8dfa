"""Starting the local stack fails with one line that says what is wrong, and `podium up`/`down`
leave nothing running behind them. Integration: it runs `podium up` with a real Kafka broker
(and needs Java), which the component tier must not."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from deploy.local import (
    KafkaBroker,
    RedisServer,
    StartError,
    ensure_kafka_jars,
    free_port,
    port_open,
)
from tests.conftest import JAR_CACHE

pytestmark = pytest.mark.integration  # starts the real broker and redis-server, needs Java


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _podium(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_taken_port_is_one_line(tmp_path: Path, taken_port: int) -> None:
    result = _podium(
        {
            "PODIUM_RUN_DIR": str(tmp_path),
            "PODIUM_KAFKA_PORT": str(taken_port),
            "PODIUM_REDIS_PORT": str(free_port()),
        },
        "up",
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"port {taken_port}" in result.stderr and "already taken" in result.stderr
    assert "Traceback" not in result.stderr


def test_redis_port_taken(tmp_path: Path, taken_port: int) -> None:
    with pytest.raises(StartError, match=f"port {taken_port} for Redis is already taken"):
        RedisServer(tmp_path, taken_port).start()


def test_missing_java_and_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to find
    with pytest.raises(StartError, match="`java` is not installed"):
        KafkaBroker(tmp_path / "k", free_port(), free_port(), tmp_path / "jars").start()
    with pytest.raises(StartError, match=r"`redis-server` is not installed: .*apt-get install"):
        RedisServer(tmp_path / "r", free_port()).start()


def test_unreachable_maven_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_mvn = bin_dir / "mvn"  # a Maven that cannot reach its repository
    fake_mvn.write_text(
        "#!/bin/sh\necho '[ERROR] Could not transfer artifact: Network is unreachable'\nexit 1\n"
    )
    fake_mvn.chmod(0o755)
    java = Path(
        subprocess.run(
            ["sh", "-c", "command -v java"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    (bin_dir / "java").symlink_to(java)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(StartError, match="Maven could not fetch the Kafka jars") as err:
        ensure_kafka_jars(tmp_path / "jars")
    assert "\n" not in str(err.value)
    assert "Network is unreachable" in str(err.value)
    assert not list((tmp_path / "jars").glob("kafka-*"))  # nothing half-made is left behind


def test_up_then_down_leaves_nothing_running(tmp_path: Path) -> None:
    ensure_kafka_jars(JAR_CACHE)  # shared cache: downloaded once per machine
    (tmp_path / "jars").symlink_to(JAR_CACHE.resolve(), target_is_directory=True)
    env = {
        "PODIUM_RUN_DIR": str(tmp_path),
        "PODIUM_KAFKA_PORT": str(free_port()),
        "PODIUM_KAFKA_CONTROLLER_PORT": str(free_port()),
        "PODIUM_REDIS_PORT": str(free_port()),
    }
    up = _podium(env, "up")
    assert up.returncode == 0, up.stderr
    pids = [int((tmp_path / svc / f"{svc}.pid").read_text()) for svc in ("kafka", "redis")]
    assert "running" in _podium(env, "status").stdout
    down = _podium(env, "down")
    assert down.returncode == 0 and "stopped: redis, kafka" in down.stdout
    for pid in pids:
        assert not _running(pid)
    status = _podium(env, "status").stdout.splitlines()
    # the webhook dispatcher is listed too (stopped: `podium up` starts no endpoint)
    names = ["kafka", "redis", "worker", "ranker", "projector", "gateway", "webhooks"]
    assert [line.split()[0] for line in status] == names
    assert all(line.split()[1] == "stopped" for line in status)


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_redis_keeps_its_data_across_a_stop_and_a_kill(tmp_path: Path) -> None:
    """The views outlive `podium down` (SIGTERM) and a kill -9: Redis's append-only file in
    its home folder under the run folder."""
    server = RedisServer(tmp_path / "redis", free_port())
    server.start()
    try:
        with redis.Redis.from_url(server.url) as r:
            r.set("before-stop", "1")
        server.stop()
        server.start()
        with redis.Redis.from_url(server.url) as r:
            assert r.get("before-stop") == b"1"
            r.set("before-kill", "2")
        pid = server.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        # the append-only file's first rewrite runs in a forked child, which may hold the
        # listening socket a moment longer than the killed parent
        while _running(pid) or port_open(server.port):
            time.sleep(0.05)
        server.start()
        with redis.Redis.from_url(server.url) as r:
            assert (r.get("before-stop"), r.get("before-kill")) == (b"1", b"2")
    finally:
        server.stop()
    assert list((tmp_path / "redis").glob("appendonlydir/*.aof"))  # kept in its home folder
