"""`EventClient.send_many`: many commands straight to `podium.events` in record batches, as
`send` writes each one (same key, same partition, same bytes), every one acknowledged."""

from __future__ import annotations

from collections import defaultdict

import pytest

from ingest.client import EventClient
from schemas.commands import MetricTracked, decode_command
from schemas.rules import Rules
from schemas.topics import Names
from tests.integration.runtime.kafka_io import read_topic

pytestmark = pytest.mark.integration

USERS = 60
EACH = 50  # commands per user through send_many


async def test_send_many_writes_every_command_where_send_puts_its_user(
    kafka_bootstrap: str, names: Names, rules: Rules
) -> None:
    async with EventClient(kafka_bootstrap, rules, names.prefix) as client:
        singles = {
            f"u{n}": await client.send("words-written", {"id": f"u{n}"}, 1) for n in range(USERS)
        }
        sent = [
            client.command("words-written", {"id": f"u{n}"}, 2 + i)
            for i in range(EACH)
            for n in range(USERS)
        ]
        await client.send_many(sent)
    by_partition = await read_topic(kafka_bootstrap, names.events)
    partitions: dict[str, set[int]] = defaultdict(set)
    seen: dict[str, list[MetricTracked]] = defaultdict(list)
    for partition, records in by_partition.items():
        for rec in records:
            cmd = decode_command(rec.value)
            assert isinstance(cmd, MetricTracked)
            assert rec.key == cmd.user.id.encode()  # the key rule
            partitions[cmd.user.id].add(partition)
            if cmd.event_id != singles[cmd.user.id]:
                seen[cmd.user.id].append(cmd)
    # each user's commands on one partition: where `send` (the producer's partitioner) put
    # its single command
    assert {len(p) for p in partitions.values()} == {1}
    assert len({min(p) for p in partitions.values()}) > 1  # and the users spread out
    expected: dict[str, list[MetricTracked]] = defaultdict(list)
    for cmd in sent:
        expected[cmd.user.id].append(cmd)
    assert seen == expected  # every command once, in the order sent, equal to what was built
