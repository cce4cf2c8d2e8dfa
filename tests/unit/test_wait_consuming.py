"""`podium run` plays its demo only once the worker and the ranker answer /readyz with 200
(`PodiumProcess.wait_consuming`): it reads the process's metrics URL from its file, probes
/readyz beside it until 200, and says which process was not ready when time runs out."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from deploy.local import StartError
from deploy.stack import PodiumProcess


@pytest.fixture
def probes() -> Iterator[tuple[str, list[str]]]:
    """A /readyz that answers 503 twice, then 200; the paths asked, in order."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            ready = self.path == "/readyz" and asked.count("/readyz") > 2
            self.send_response(200 if ready else 503)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/metrics", asked
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_it_waits_for_the_url_then_for_a_200_from_readyz(
    tmp_path: Path, probes: tuple[str, list[str]]
) -> None:
    url, asked = probes
    ranker = PodiumProcess("ranker", tmp_path / "ranker", 0, ["ranker"])
    ranker.home.mkdir()
    timer = threading.Timer(0.5, lambda: ranker.url_file.write_text(url + "\n"))
    timer.start()
    ranker.wait_consuming(timeout=10)
    assert asked == ["/readyz", "/readyz", "/readyz"]


def test_a_process_never_ready_is_named_when_time_runs_out(tmp_path: Path) -> None:
    worker = PodiumProcess("worker", tmp_path / "worker", 0, ["worker"])
    with pytest.raises(StartError, match=r"worker was not ready within 1 s"):
        worker.wait_consuming(timeout=1)
