"""The webhook tests' receivers: real HTTP servers on 127.0.0.1 (threads of this process).
`docs/webhooks.md`'s receiver example is run as it is written, from the document."""

from __future__ import annotations

import io
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from deploy.local import free_port
from deploy.settings import REPO_DIR

DOCS = REPO_DIR / "docs" / "webhooks.md"
HEADER = "X-Podium-Delivery-Id"


def docs_example() -> str:
    """The receiver example of docs/webhooks.md: its first python block."""
    found = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert found, "docs/webhooks.md has no python block"
    return found.group(1)


@dataclass
class Receiver:
    """One server: the docs' example (secret `secret`), seeing every request first.
    `fail_first`: answer 500 to each delivery's first attempt; `hang`: never answer until
    `released`; `delay_s`: answer each after that long."""

    secret: str
    fail_first: bool = False
    hang: bool = False
    delay_s: float = 0.0
    port: int = field(default_factory=free_port)
    requests: Counter[str] = field(default_factory=Counter)  # delivery id -> requests
    handled: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (id, webhook)
    bodies: dict[str, bytes] = field(default_factory=dict)
    refused: int = 0  # 401s: signatures that did not verify
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        ns: dict[str, Any] = {"__name__": "docs_example"}
        exec(docs_example(), ns)  # the example defines SECRET, verified, handle and Receiver
        ns["SECRET"] = self.secret.encode()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler(ns))
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self, ns: dict[str, Any]) -> type[BaseHTTPRequestHandler]:
        me = self
        example: type[BaseHTTPRequestHandler] = ns["Receiver"]
        current: list[str] = [""]

        def handle(webhook: dict[str, Any]) -> None:
            with me.lock:
                me.handled.append((current[0], webhook))

        ns["handle"] = handle

        class Seeing(example):  # type: ignore[valid-type, misc]
            rfile: Any  # the request's stream, or the body read already (read again)

            def log_message(self, *args: object) -> None:
                pass

            def send_error(self, code: int, *args: Any, **kwargs: Any) -> None:
                if code == 401:
                    with me.lock:
                        me.refused += 1
                super().send_error(code, *args, **kwargs)

            def do_POST(self) -> None:
                delivery = self.headers.get(HEADER, "")
                with me.lock:
                    me.requests[delivery] += 1
                    first = me.requests[delivery] == 1
                if me.hang:
                    me.released.wait()
                if me.delay_s:
                    me.released.wait(me.delay_s)
                if me.fail_first and first:
                    self.rfile.read(int(self.headers["Content-Length"]))
                    self.send_response(500)
                    self.end_headers()
                    return
                with me.lock:
                    current[0] = delivery
                    peek = self.rfile.read(int(self.headers["Content-Length"]))
                    me.bodies.setdefault(delivery, peek)
                    self.rfile = io.BytesIO(peek)  # the example reads it again
                    super().do_POST()

        return Seeing

    def total_requests(self) -> int:
        with self.lock:
            return sum(self.requests.values())
