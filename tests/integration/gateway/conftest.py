"""A whole Podium per test module: topics under a fresh prefix on the session's real Kafka,
the real stream worker (`python -m deploy.cli worker`), the projector and the gateway as
subprocesses, Redis views under a fresh namespace, and Trophy's own SDK pointed at it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from trophy import TrophyApi
from trophy.core.api_error import ApiError as SdkApiError
from trophy.environment import TrophyApiEnvironment

from deploy.local import free_port
from deploy.settings import REPO_DIR
from deploy.stack import create_topics, wait_ready
from ingest.auth import mint_key
from schemas.topics import CATALOGUE, Topic
from tests.rules import WRITING_PATH

WORKER = ["-m", "deploy.cli", "worker"]
RULES = WRITING_PATH
JAR_CACHE = Path(os.environ.get("PODIUM_RUN_DIR", REPO_DIR / ".podium")) / "jars"


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    stopped: bool = False

    def stop(self) -> None:
        self.stopped = True
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    def working(self, within: float = 30.0) -> None:
        """Until a worker (or ranker) process owns partitions, as its log says."""
        deadline = time.monotonic() + within
        while "took partitions" not in self.tail():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} took no partitions: {self.tail()}")
            time.sleep(0.1)


@dataclass
class Podium:
    bootstrap: str
    redis_url: str
    prefix: str
    api_key: str
    env: dict[str, str]
    home: Path
    procs: list[Proc] = field(default_factory=list)
    gateways: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.gateways[0]

    def spawn(self, name: str, args: list[str], **env: str) -> Proc:
        log = self.home / f"{name}.log"
        url_file = str(self.home / f"{name}.metrics-url")  # its /metrics on a free port
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                [sys.executable, *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=REPO_DIR,
                env={**os.environ, **self.env, "PODIUM_METRICS_URL_FILE": url_file, **env},
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_gateway(self, **env: str) -> str:
        port = free_port()
        name = f"gateway-{len(self.gateways)}"
        proc = self.spawn(name, ["-m", "deploy.cli", "gateway", "--port", str(port)], **env)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_ready(base + "/ready", timeout=30)
        except Exception:
            pytest.fail(f"{name} did not become ready:\n{proc.tail()}")
        # ready takes writes; reads answer 503 until the projector's first build of the views
        # is done (`views` in /ready): the tests start reading at once
        deadline = time.monotonic() + 30
        while not httpx.get(base + "/ready", timeout=5).json().get("views"):
            if time.monotonic() > deadline:
                pytest.fail(f"{name}: the read views were not built within 30 s")
            time.sleep(0.05)
        self.gateways.append(base + "/v1")
        return base + "/v1"

    def start_ranker(self, within: float = 30.0) -> Proc:
        """`podium ranker` (the leaderboards' ranking stage), once it owns partitions."""
        ranker = self.spawn("ranker", ["-m", "deploy.cli", "ranker"])
        deadline = time.monotonic() + within
        while "took partitions" not in ranker.tail():
            self.check_alive()
            if time.monotonic() > deadline:
                pytest.fail(f"the ranker took no partitions within {within:g} s:\n{ranker.tail()}")
            time.sleep(0.1)
        return ranker

    def metrics_url(self, name: str, within: float = 30.0) -> str:
        """The /metrics URL of the process spawned as `name`, once it listens."""
        path = self.home / f"{name}.metrics-url"
        deadline = time.monotonic() + within
        while not path.exists() or not path.read_text().strip():
            self.check_alive()
            if time.monotonic() > deadline:
                pytest.fail(f"{name} wrote no metrics URL within {within:g} s")
            time.sleep(0.05)
        return path.read_text().strip()

    def trophy(
        self, base_url: str | None = None, api_key: str | None = None, tenant: str | None = None
    ) -> TrophyApi:
        url = base_url or self.base_url
        env = TrophyApiEnvironment(api=url, admin=url.removesuffix("/v1") + "/admin/v1")
        return TrophyApi(
            api_key=api_key or self.api_key,
            environment=env,
            max_retries=0,
            timeout=10,
            tenant_id=tenant,
        )

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-API-KEY": self.api_key}, timeout=10)

    def rebuild_views(self) -> str:
        """`podium views rebuild` against this stack, as an operator runs it; its output."""
        done = subprocess.run(
            [sys.executable, "-m", "deploy.cli", "views", "rebuild"],
            cwd=REPO_DIR,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    def check_alive(self) -> None:
        for proc in self.procs:
            if not proc.stopped and proc.popen.poll() is not None:
                pytest.fail(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


def eventually(check: Callable[[], object], within: float = 10.0, every: float = 0.05) -> None:
    """Retry `check` (which asserts) until it passes or `within` seconds have gone; an SDK
    error answer (a user not projected yet: 404) is retried too, and re-raised at the end."""
    deadline = time.monotonic() + within
    while True:
        try:
            check()
            return
        except (AssertionError, SdkApiError):
            if time.monotonic() > deadline:
                raise
            time.sleep(every)


def start_podium(
    bootstrap: str,
    redis_url: str,
    home: Path,
    *,
    wait_s: float = 5.0,
    gateway: bool = True,
    rules: Path = RULES,
    topics: tuple[Topic, ...] = CATALOGUE,
) -> Podium:
    prefix = f"t{uuid.uuid4().hex[:10]}."
    asyncio.run(create_topics(bootstrap, prefix, topics))
    key, digest = mint_key()
    env = {
        "PODIUM_KAFKA_BOOTSTRAP": bootstrap,
        "PODIUM_REDIS_URL": redis_url,
        "PODIUM_TOPIC_PREFIX": prefix,
        "PODIUM_VIEWS_PREFIX": f"{prefix}views:",
        "PODIUM_RULES_PATH": str(rules),
        "PODIUM_API_KEY_HASHES": digest,
        "PODIUM_GATEWAY_WAIT_S": str(wait_s),
        "PODIUM_GATEWAY_RANK_WAIT_S": str(wait_s),
        "PODIUM_RUN_DIR": str(home / "run"),
    }
    podium = Podium(bootstrap, redis_url, prefix, key, env, home)
    worker = podium.spawn("worker", WORKER)
    podium.spawn("projector", ["-m", "deploy.cli", "projector"])
    deadline = time.monotonic() + 30
    while "took partitions" not in worker.tail():  # joined its group, state restored
        podium.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"the worker took no partitions within 30 s:\n{worker.tail()}")
        time.sleep(0.1)
    if gateway:
        podium.start_gateway()
    podium.check_alive()
    return podium


@pytest.fixture(scope="module")
def podium(
    kafka_bootstrap: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Podium]:
    with ExitStack() as stack:
        home = tmp_path_factory.mktemp("podium")
        pod = start_podium(kafka_bootstrap, redis_url, home)
        stack.callback(pod.stop)
        yield pod
        pod.check_alive()
