"""`kafka.partition_of` is Kafka's murmur2 placement: values from the Java client's own
tests (`UtilsTest.testMurmur2`) and the placement of keys Podium writes."""

from __future__ import annotations

from processors.runtime.kafka import _murmur2, partition_of


def test_murmur2_matches_the_java_clients_vectors() -> None:
    # org.apache.kafka.common.utils.UtilsTest: signed ints, here as unsigned 32-bit
    cases = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"a-little-bit-longer-string": -1486304829,
        b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        b"abc": 479470107,
    }
    for key, signed in cases.items():
        assert _murmur2(key) == signed & 0xFFFFFFFF, key


def test_a_partition_is_the_positive_hash_modulo_the_count() -> None:
    assert partition_of(b"21", 12) == (-973932308 & 0x7FFFFFFF) % 12
    assert all(0 <= partition_of(b"u%d" % i, 7) < 7 for i in range(100))
