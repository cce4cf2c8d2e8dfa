"""`PODIUM_LOG_FORMAT=json`: one JSON object per log line, with the process and, where the code
gave them, the partition, offset, event id and user id; text stays the default."""

from __future__ import annotations

import json
import logging

import pytest

from deploy.logs import JsonFormatter, configure
from deploy.settings import Settings


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("podium.worker", logging.WARNING, __file__, 1, msg, args, None)
    rec.__dict__.update(extra)
    return rec


def test_a_json_line_carries_the_message_process_and_context() -> None:
    line = JsonFormatter("worker").format(
        record("partition %d lost (%s)", 7, "fenced", partition=7, offset=41, user_id="u18")
    )
    got = json.loads(line)
    assert got["message"] == "partition 7 lost (fenced)"
    assert (got["level"], got["logger"], got["process"]) == ("WARNING", "podium.worker", "worker")
    assert (got["partition"], got["offset"], got["user_id"]) == (7, 41, "u18")
    assert "event_id" not in got  # not given: not invented
    assert got["time"].endswith("+00:00") and "\n" not in line


def test_an_exception_is_one_field_of_the_same_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        rec.exc_info = sys.exc_info()
    got = json.loads(JsonFormatter("gateway").format(rec))
    assert got["message"] == "failed" and "ValueError: boom" in got["exception"]


def test_the_setting_chooses_the_format(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    try:
        monkeypatch.setenv("PODIUM_LOG_FORMAT", "json")
        settings = Settings()
        configure(settings.log_level, settings.log_format, "ranker")
        logging.getLogger("podium.ranker").info("took %d", 3, extra={"partition": 2})
        got = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
        assert (got["message"], got["process"], got["partition"]) == ("took 3", "ranker", 2)
        configure("INFO", Settings(log_format="text").log_format, "ranker")
        logging.getLogger("podium.ranker").info("took %d", 4)
        assert capsys.readouterr().err.strip().endswith("INFO podium.ranker: took 4")
    finally:
        root.handlers[:] = saved
        root.setLevel(level)


def test_a_dead_letter_is_logged_with_its_partition_offset_and_event_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker's and the ranker's dead-letter line (`runner._dead_letters`)."""
    from processors.runtime.runner import _dead_letters
    from schemas.records import DeadLetter

    letter = DeadLetter.of("json: not JSON", b"{", "podium.events", 3, 17, b"u1", "ev-9")
    for process in ("worker", "ranker"):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            _dead_letters(process, [letter])
        [rec] = caplog.records
        got = json.loads(JsonFormatter(process).format(rec))
        assert got["logger"] == f"podium.{process}"
        assert (got["partition"], got["offset"], got["event_id"]) == (3, 17, "ev-9")


def test_a_take_names_its_partitions() -> None:
    line = JsonFormatter("worker").format(record("took partitions %s", [0, 4], partitions=[0, 4]))
    assert json.loads(line)["partitions"] == [0, 4]
