"""The ops server (processors.runtime.ops_server) on a free loopback port: /metrics is the
registry's Prometheus text, /livez and /readyz answer 200 or 503 with the probes' reason, a
probe that raises says no; a port that is taken stops the process with the setting to change;
`operated` writes the URL where the local stack reads it and removes it at the end."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from processors.runtime.health import Verdict
from processors.runtime.ops_server import OpsConfig, OpsServer, operated


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


class Probes:
    def __init__(self) -> None:
        self.alive, self.ready_ = True, False

    def live(self) -> Verdict:
        return Verdict(self.alive, "turning" if self.alive else "stalled")

    def ready(self) -> Verdict:
        if self.ready_ is None:
            raise RuntimeError("boom")
        return Verdict(self.ready_, "owns 2" if self.ready_ else "owns no partitions")


def test_metrics_and_probes_answer_on_their_own_thread() -> None:
    server = OpsServer("127.0.0.1", 0, "worker")
    url = server.start()
    try:
        assert url == f"http://127.0.0.1:{server.port}/metrics" and server.port != 0
        base = url.removesuffix("/metrics")
        status, text = get(url)
        assert status == 200 and "\npodium_build_info{" in text
        assert get(base + "/readyz")[0] == 503  # starting: alive, not ready
        assert get(base + "/livez")[0] == 200
        probes = Probes()
        server.probes = probes
        status, body = get(base + "/readyz")
        assert status == 503 and json.loads(body) == {
            "ok": False,
            "reason": "owns no partitions",
            "process": "worker",
        }
        probes.ready_, probes.alive = True, False
        assert get(base + "/readyz")[0] == 200
        assert get(base + "/livez") == (
            503,
            '{"ok": false, "reason": "stalled", "process": "worker"}',
        )
        probes.ready_ = None  # type: ignore[assignment]
        status, body = get(base + "/readyz")
        assert status == 503 and "the probe failed" in body
        assert get(base + "/other")[0] == 404
    finally:
        server.stop()


def test_a_taken_port_names_the_setting_to_change() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = OpsServer("127.0.0.1", taken.getsockname()[1], "ranker")
        with pytest.raises(RuntimeError, match="PODIUM_RANKER_METRICS_PORT"):
            server.start()


async def test_operated_records_its_url_for_the_local_stack(tmp_path: Path) -> None:
    url_file = tmp_path / "projector" / "metrics.url"
    config = OpsConfig("127.0.0.1", 0, url_file=url_file)
    async with operated(config, "projector", "unused:9092", sample=False) as ops:
        assert ops.url is not None and url_file.read_text() == ops.url + "\n"
        status, text = await asyncio.to_thread(get, ops.url)
        assert status == 200 and 'podium_process_ready{process="projector"} 0.0' in text
    assert not url_file.exists()
    async with operated(None, "projector", "unused:9092") as ops:  # in-process: nothing served
        assert ops.server is None and ops.url is None
