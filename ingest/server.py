"""The HTTP server's own limits: uvicorn's httptools protocol bounds neither the request line
nor the headers (only its h11 protocol has a setting, for both together), so a 600 kB header
or path reached the routes. `bounded_http` is the httptools protocol that answers, in the
gateway's error shape, 414 when the request target (path and query) is over `max_url_bytes`
and 431 when the headers together are over `max_header_bytes`, then closes the connection,
before any route runs. `podium gateway` serves with it (`deploy.cli.cmd_gateway`)."""

from __future__ import annotations

import asyncio

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_URL_BYTES = 32 * 1024
"""Room for `GET /v1/streaks` with its 100 user ids of 255 characters, percent-encoded."""
MAX_HEADER_BYTES = 32 * 1024
"""Every header's name and value together (a browser sends a few kB; Node's limit is 16 kB)."""


class _TooLarge(Exception):
    """Raised inside a parser callback to stop parsing; `refusal` says what to answer."""


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, with the request target and the headers bounded."""

    max_url_bytes = MAX_URL_BYTES
    max_header_bytes = MAX_HEADER_BYTES
    refusal: tuple[int, str] | None = None
    header_bytes = 0
    in_head = True  # reading a request line and headers (not a body)
    head_bytes = 0  # bytes received while in the head: httptools buffers a header whole

    def data_received(self, data: bytes) -> None:
        if self.in_head:
            self.head_bytes += len(data)
        super().data_received(data)
        limit = self.max_url_bytes + self.max_header_bytes
        if self.in_head and self.head_bytes > limit and self.refusal is None:
            self.refusal = (431, f"request line and headers over {limit:,} bytes")
            self.send_400_response("")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.refusal = None
        self.header_bytes = 0

    def on_headers_complete(self) -> None:
        self.in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_head = True
        self.head_bytes = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.max_url_bytes:
            self.refuse(414, f"request target over the limit of {self.max_url_bytes:,} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.header_bytes += len(name) + len(value)
        if self.header_bytes > self.max_header_bytes:
            self.refuse(431, f"request headers over the limit of {self.max_header_bytes:,} bytes")
        super().on_header(name, value)

    def refuse(self, status: int, message: str) -> None:
        self.refusal = (status, message)
        raise _TooLarge(message)

    def send_400_response(self, msg: str) -> None:
        """The parser stopped: our refusal if a limit stopped it, else uvicorn's 400."""
        if self.refusal is None:
            super().send_400_response(msg)
            return
        status, message = self.refusal
        body = orjson.dumps({"error": message})
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[status],
                    b"content-type: application/json\r\n",
                    b"content-length: " + str(len(body)).encode() + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
        )
        self.transport.close()


def bounded_http(
    max_url_bytes: int = MAX_URL_BYTES, max_header_bytes: int = MAX_HEADER_BYTES
) -> type[asyncio.Protocol]:
    """The protocol class to give uvicorn (`http=`), with these limits."""
    return type(
        "BoundedHttpTools",
        (BoundedHttpTools,),
        {"max_url_bytes": max_url_bytes, "max_header_bytes": max_header_bytes},
    )
