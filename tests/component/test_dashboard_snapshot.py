"""deploy/dashboard_snapshot.py: it reads the dashboard's main panels, writes Grafana's
placeholders out, and, with a real Prometheus server (Debian's `prometheus`; skipped without
it, except under CI) scraping a process that counts at a known rate, evaluates the panel's
query to that rate and draws a PNG."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from deploy.dashboard_snapshot import (
    DASHBOARD,
    MAIN_PANELS,
    concrete,
    draw,
    evaluate,
    free_port,
    legend,
    main_panels,
    prometheus,
)


def test_the_main_panels_are_read_from_the_dashboard_in_order() -> None:
    panels = main_panels(json.loads(DASHBOARD.read_text()))
    assert [p.title for p in panels] == list(MAIN_PANELS)
    assert all(p.targets for p in panels)
    assert panels[1].unit == "s"  # the answer wait


def test_grafana_s_placeholders_are_written_out() -> None:
    assert concrete("rate(x[$__rate_interval])", "20s") == "rate(x[20s])"
    assert legend("{{group}} lag", {"group": "podium.worker"}) == "podium.worker lag"
    assert legend("", {"b": "2", "a": "1"}) == "a=1, b=2"
    assert legend("", {}) == "value"


def test_a_real_prometheus_sees_the_rate_a_process_counts_at(tmp_path: Path) -> None:
    if shutil.which("prometheus") is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is missing: apt-get install prometheus")
        pytest.skip("prometheus is missing (apt-get install prometheus; `make install` does)")
    registry = CollectorRegistry()
    applied = Counter("podium_events_applied_total", "folded", registry=registry)
    port = free_port()
    server, _ = start_http_server(port, "127.0.0.1", registry)
    stop = threading.Event()

    def count() -> None:  # 100 events a second
        while not stop.wait(0.05):
            applied.inc(5)

    threading.Thread(target=count, daemon=True).start()
    try:
        [panel] = main_panels(json.loads(DASHBOARD.read_text()), ["Ingest rate"])
        with prometheus([f"127.0.0.1:{port}"], interval_s=1) as prom:
            start = time.time()
            time.sleep(16)  # the rate window (10 s) wholly after the first scrapes
            drawn = evaluate(prom, [panel], (start, time.time()), step_s=1)
    finally:
        stop.set()
        server.shutdown()
    [(name, points)] = drawn["Ingest rate"]  # published: no series, applied: one
    assert name == "applied by the workers"
    assert 70 <= points[-1][1] <= 130, points  # about 100 a second (sleeps drift, box shared)
    draw([panel], drawn, tmp_path / "d.png")
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
