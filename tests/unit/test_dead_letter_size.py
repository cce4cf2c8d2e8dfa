"""A dead letter carries its record whole up to 256 KiB of key and value, and by reference
beyond (a 1,024-byte prefix of each, the full sizes), so it always fits a broker message."""

from __future__ import annotations

import base64

from schemas.records import DeadLetter, decode_record, encode_record


def test_a_small_record_is_carried_whole() -> None:
    value = b"x" * 1000
    letter = DeadLetter.of("not JSON", value, "t", 2, 9, b"u1")
    assert letter.original_bytes() == value and base64.b64decode(letter.key or "") == b"u1"
    assert not letter.by_reference and letter.value_size is None and letter.key_size is None


def test_a_record_over_256_kib_is_carried_by_reference() -> None:
    value = bytes(range(256)) * 4096  # 1 MiB
    letter = DeadLetter.of("not JSON", value, "t", 2, 9, b"u1")
    assert letter.by_reference
    assert letter.original_bytes() == value[:1024]
    assert (letter.value_size, letter.key_size) == (1_048_576, 2)
    assert (letter.topic, letter.partition, letter.offset, letter.id) == ("t", 2, 9, "t:2:9")
    raw = encode_record(letter)
    assert len(raw) < 4 * 1024 and decode_record(raw) == letter


def test_the_limit_counts_key_and_value_together() -> None:
    key, value = b"k" * 200 * 1024, b"v" * 100 * 1024  # each under 256 KiB, together over
    letter = DeadLetter.of("key: too long", value, "t", 0, 1, key)
    assert letter.by_reference and (letter.value_size, letter.key_size) == (len(value), len(key))
    assert base64.b64decode(letter.key or "") == key[:1024]
    at_limit = DeadLetter.of("not JSON", b"v" * (256 * 1024 - 2), "t", 0, 1, b"u1")
    assert not at_limit.by_reference
