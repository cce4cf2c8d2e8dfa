"""How every `podium` process logs: plain text by default, or one JSON object per line when
`PODIUM_LOG_FORMAT=json` asks (for a log shipper). A JSON line carries the time, level,
logger, message and process, and the record's `partition` (or a take's or revocation's
`partitions`), `offset`, `event_id` and `user_id` where the code gave them
(`log.warning(..., extra={"partition": p})`)."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Literal

import orjson

LogFormat = Literal["text", "json"]
CONTEXT = ("partition", "partitions", "offset", "event_id", "user_id")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record; `process` names the podium command (worker, gateway…)."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": self.process,
            "pid": record.process,
        }
        for key in CONTEXT:
            if (value := record.__dict__.get(key)) is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(level: str, fmt: LogFormat, process: str) -> None:
    """The root logger for this process (replacing any handler set before)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(process) if fmt == "json" else logging.Formatter(TEXT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # librdkafka's own log (`processors.runtime.kafka` routes it here): its warnings and errors
    logging.getLogger("podium.kafka").setLevel(max(logging.WARNING, root.level))
