"""What an orchestrator and Prometheus read of a Podium process, on a port of its own:
`/metrics` (the Prometheus text of the default registry), `/livez` and `/readyz` (200 or 503,
with the reason as JSON; the verdicts come from the process's `Probes`, see
`processors.runtime.health`). Every process serves them: worker, ranker, projector, gateway
(whose API port keeps its own `/health` and `/ready`).

The server is the standard library's threading HTTP server, on a thread of its own, so a probe
is answered while the event loop folds a long batch, and the loop's answer to "am I turning"
comes from what the loop last did, not from whether it found time to answer.

`operated` runs it for a process's lifetime, with the lag sampler (`processors.runtime.lag`)
and `podium_process_ready`, `podium_owned_partitions` read at each scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import platform
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Gauge, generate_latest

from processors.runtime import telemetry
from processors.runtime.health import Heartbeat, LoopProbes, Pulse, Verdict, Watched
from processors.runtime.lag import BrokerOffsets, LagSampler

log = logging.getLogger("podium.ops")


def _version() -> str:
    try:
        return version("podium")
    except PackageNotFoundError:
        return "unknown"


BUILD_INFO = Gauge("podium_build_info", "Always 1: the running release", ["version", "python"])
BUILD_INFO.labels(_version(), platform.python_version()).set(1)
PROCESS_READY = Gauge(
    "podium_process_ready", "1 while the process answers /readyz with 200, else 0", ["process"]
)


@dataclass(frozen=True, slots=True)
class OpsConfig:
    """Where a process serves its metrics and probes, and the probes' bounds (from the
    settings: `PODIUM_METRICS_HOST`, `PODIUM_<PROCESS>_METRICS_PORT`, `PODIUM_LIVE_POLL_S`,
    `PODIUM_READY_LAG_RECORDS`)."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port, chosen at start and logged
    url_file: Path | None = None  # where to write the URL once listening (the local stack)
    live_poll_s: float = 30.0
    ready_lag_records: int = 10_000
    lag_every_s: float = 5.0


class Probes(Protocol):
    def live(self) -> Verdict: ...
    def ready(self) -> Verdict: ...


class Starting:
    """Before the process has its loops: alive, not ready."""

    def live(self) -> Verdict:
        return Verdict(True, "starting")

    def ready(self) -> Verdict:
        return Verdict(False, "starting")


class OpsServer:
    """/metrics, /livez and /readyz on `host:port`, answered on a thread of their own."""

    def __init__(self, host: str, port: int, process: str) -> None:
        self.host, self.port, self.process = host, port, process
        self.probes: Probes = Starting()
        self.httpd: ThreadingHTTPServer | None = None

    def start(self) -> str:
        """Listen; the URL of /metrics (0.0.0.0 shown as 127.0.0.1)."""
        try:
            httpd = ThreadingHTTPServer((self.host, self.port), _handler(self))
        except OSError as err:
            setting = f"PODIUM_{self.process.upper()}_METRICS_PORT"
            raise RuntimeError(
                f"the {self.process} cannot serve its metrics on {self.host}:{self.port} "
                f"({err.strerror}): set {setting} to a free port, or 0 for any"
            ) from err
        httpd.daemon_threads = True
        self.httpd = httpd
        self.port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, name="ops-http", daemon=True).start()
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{shown}:{self.port}/metrics"

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def answer(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a GET of `path`."""
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY)
        probe = {"/livez": self.probes.live, "/readyz": self.probes.ready}.get(path)
        if probe is None:
            return 404, "application/json", b'{"error": "/metrics, /livez or /readyz"}'
        try:
            verdict = probe()
        except Exception as err:  # a probe that fails says no, and why
            verdict = Verdict(False, f"the probe failed: {err!r}")
        body = json.dumps({"ok": verdict.ok, "reason": verdict.reason, "process": self.process})
        return (200 if verdict.ok else 503), "application/json", body.encode()


def _handler(server: OpsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = server.answer(self.path.split("?", 1)[0])
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a scrape every few seconds is not news

    return Handler


class Operations:
    """A process's ops server and lag sampler. Its consumer loops attach themselves with
    `watch`; with no config (tests run processes in-process) nothing is served or sampled."""

    def __init__(self, config: OpsConfig | None, process: str, bootstrap: str) -> None:
        self.config = config
        self.process = process
        self.server = OpsServer(config.host, config.port, process) if config else None
        self.offsets = BrokerOffsets(bootstrap)
        self.sampler = LagSampler(self.offsets, config.lag_every_s if config else 5.0)
        self.heartbeat = Heartbeat()
        self.url: str | None = None

    def watch(self, group: str, topic: str, pulse: Pulse | None = None) -> Watched:
        """Probe and sample this loop (its `pulse`, or a new one) from now on."""
        loop = Watched(group, topic, pulse or Pulse())
        self.sampler.loops.append(loop)
        if self.server is not None and self.config is not None:
            self.server.probes = LoopProbes(
                self.sampler.loops,
                self.heartbeat,
                live_s=self.config.live_poll_s,
                max_lag=self.config.ready_lag_records,
                stale_s=max(30.0, 6 * self.config.lag_every_s),
            )
        return loop

    def also(self, hook: Callable[[], None]) -> None:
        """Run `hook` (on the event loop) at each sample: gauges the loop's state gives."""
        self.sampler.also.append(hook)

    def owned(self) -> float:
        return float(sum(len(loop.pulse.owned) for loop in self.sampler.loops))

    def ready(self) -> float:
        return float(self.server is not None and self.server.probes.ready().ok)


@contextlib.asynccontextmanager
async def operated(
    config: OpsConfig | None, process: str, bootstrap: str, *, sample: bool = True
) -> AsyncIterator[Operations]:
    """Serve the process's metrics and probes (and sample its lag) while the block runs."""
    ops = Operations(config, process, bootstrap)
    if ops.server is None or config is None:
        yield ops
        return
    ops.url = ops.server.start()
    log.info("%s serves its metrics at %s (and /livez, /readyz)", process, ops.url)
    if config.url_file is not None:
        config.url_file.parent.mkdir(parents=True, exist_ok=True)
        config.url_file.write_text(ops.url + "\n")
    PROCESS_READY.labels(process).set_function(ops.ready)
    if sample:
        telemetry.OWNED_PARTITIONS.labels(process).set_function(ops.owned)
    tasks = [asyncio.create_task(ops.heartbeat.run(), name="heartbeat")]
    if sample:
        tasks.append(asyncio.create_task(ops.sampler.run(), name="lag sampler"))
    try:
        yield ops
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await ops.offsets.close()
        ops.server.stop()
        if config.url_file is not None:
            config.url_file.unlink(missing_ok=True)
