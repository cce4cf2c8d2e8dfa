"""Prototype of the fast path (docs/fast-path.md): a stream worker on confluent-kafka with
exactly-once v2 (KIP-447), doing the same fold as `podium worker` (`fold_batch`, the `schemas`
codecs) and writing the same records to the same partitions.

Reads the events topic (read_committed) in the worker group; writes `podium.state`,
`podium.achievements`, `podium.streaks` (each to the input's partition number),
`podium.progress` (`progress_partition` of the input's, as the worker) and `podium.events.dlq`.

What differs from `processors/runtime/`:
- ONE transactional producer per worker process, whatever it owns. Zombies are fenced by the
  consumer group's generation: `send_offsets_to_transaction` carries the consumer's group
  metadata, and the group coordinator refuses offsets from an older generation.
- ONE transaction per batch, across every assigned partition.
- Adaptive batching: when the input is quiet the first record is committed at once; when it is
  busy, whatever arrived during the previous commit is the next batch (up to `max_records`).
- On assignment: the committed offsets are read first (read_committed asks the broker for
  stable offsets, so an open transaction of a former owner is settled before), then the
  partitions' states are restored from the compacted state topic, and the consumer is put at
  exactly those offsets.

Run: `python -m tests.bench.eos_v2_peer [--input-topic T] [--instance I]` with the `PODIUM_*`
settings of a worker (bootstrap, topic prefix, rules, session and transaction timeouts).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

from confluent_kafka import (
    OFFSET_BEGINNING,
    Consumer,
    KafkaException,
    Message,
    Producer,
    TopicPartition,
)

from deploy.settings import Settings
from processors.runtime.batch import Effects, KeyValue, fold_batch
from processors.runtime.changelog import latest_states
from processors.runtime.store import StateStore
from schemas.records import encode_record
from schemas.rules import Rules
from schemas.rules_parse import load_rules
from schemas.topics import Names, progress_partition

log = logging.getLogger("podium.eosv2")


class Rec(NamedTuple):
    """A consumed record as `fold_batch` reads it (confluent's Message has methods)."""

    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class PeerConfig:
    bootstrap: str
    input_topic: str
    names: Names  # the output topics and the consumer group
    transactional_id: str
    session_timeout_ms: int = 10_000
    transaction_timeout_ms: int = 10_000
    max_records: int = 50_000
    linger_ms: int = 1  # commit_transaction flushes anyway

    @classmethod
    def from_settings(cls, settings: Settings, input_topic: str, instance: str) -> PeerConfig:
        names = Names(settings.topic_prefix)
        return cls(
            bootstrap=settings.bootstrap,
            input_topic=input_topic or names.events,
            names=names,
            transactional_id=f"{names.worker_group}.eosv2.{instance}",
            session_timeout_ms=settings.worker_session_timeout_ms,
            transaction_timeout_ms=settings.transaction_timeout_ms,
            max_records=settings.worker_max_records,
        )


class Peer:
    """The consume → fold → transact loop; one instance per process."""

    def __init__(self, config: PeerConfig, rules: Rules) -> None:
        self.config = config
        self.rules = rules
        self.stores: dict[int, StateStore] = {}
        self.applied = 0
        self.transactions = 0
        session = config.session_timeout_ms
        self.consumer = Consumer(
            {
                "bootstrap.servers": config.bootstrap,
                "group.id": config.names.worker_group,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "session.timeout.ms": session,
                "heartbeat.interval.ms": max(500, session // 3),
                "max.poll.interval.ms": max(60_000, session),
                "max.partition.fetch.bytes": 4 * 1024 * 1024,
                "fetch.max.bytes": 32 * 1024 * 1024,
            }
        )
        self.producer = Producer(
            {
                "bootstrap.servers": config.bootstrap,
                "transactional.id": config.transactional_id,
                "transaction.timeout.ms": config.transaction_timeout_ms,
                "acks": "all",
                "linger.ms": config.linger_ms,
                # A transaction's first produce often meets the previous one's markers still
                # being written (CONCURRENT_TRANSACTIONS): retry after 5 ms, not 100.
                "retry.backoff.ms": 5,
                "batch.size": 1024 * 1024,
                "queue.buffering.max.messages": 2_000_000,
                "queue.buffering.max.kbytes": 2 * 1024 * 1024,
            }
        )

        progress = self.producer.list_topics(config.names.progress, timeout=30)
        self.progress_partitions = len(progress.topics[config.names.progress].partitions)

    # --- the loop -------------------------------------------------------------------------

    def run(self, stopped: list[bool]) -> None:
        """Run until `stopped[0]` is set (by a signal handler)."""
        # Fences an older process with this transactional id and settles its open transaction.
        self.producer.init_transactions(30)
        self.consumer.subscribe(
            [self.config.input_topic],
            on_assign=self._on_assign,
            on_revoke=self._on_revoke,
            on_lost=self._on_revoke,
        )
        try:
            while not stopped[0]:
                batch = self._next_batch()
                if batch:
                    self._transact(batch)
        finally:
            self.consumer.close()
            self.producer.flush(10)

    def _next_batch(self) -> dict[int, list[Rec]]:
        """What is fetched already; if nothing, wait for the first record, then take what came
        with it. A quiet input commits each arrival at once; a busy one gets large batches."""
        msgs = self.consumer.consume(self.config.max_records, timeout=0)
        if not msgs:
            first = self.consumer.poll(0.2)
            if first is None:
                return {}
            msgs = [first, *self.consumer.consume(self.config.max_records - 1, timeout=0)]
        batch: dict[int, list[Rec]] = {}
        for msg in msgs:
            if msg.error() is not None:
                self._consume_error(msg)
                continue
            batch.setdefault(msg.partition() or 0, []).append(
                Rec(msg.offset() or 0, msg.key(), msg.value())
            )
        return batch

    def _consume_error(self, msg: Message) -> None:
        err = msg.error()
        if err is None or err.fatal():
            raise KafkaException(err)
        log.warning("consume error on partition %s: %s", msg.partition(), err)

    def _transact(self, batch: dict[int, list[Rec]]) -> None:
        topic = self.config.input_topic
        # Fold first, then open the transaction: with the folds inside it, a starved box
        # (load 15 on 2 cores, 2026-12-07) kept a transaction open past
        # transaction.timeout.ms, the coordinator aborted it and the producer died fenced.
        folded = [
            (p, fold_batch(store, recs, self.rules, topic, p))
            for p, recs in batch.items()
            if (store := self.stores.get(p)) is not None  # else: the next owner reads them
        ]
        self.producer.begin_transaction()
        try:
            for p, effects in folded:
                self._produce(effects, p)
            offsets = [TopicPartition(topic, p, effects.next_offset) for p, effects in folded]
            meta = self.consumer.consumer_group_metadata()
            self.producer.send_offsets_to_transaction(offsets, meta, 30)
            self.producer.commit_transaction(30)
        except KafkaException as exc:
            self._failed(exc)
            return
        self.applied += sum(effects.events for _, effects in folded)
        self.transactions += 1

    def _produce(self, effects: Effects, partition: int) -> None:
        names = self.config.names
        by_topic: dict[str, list[KeyValue]] = {names.state: effects.encoded_states}
        by_topic.update((names.of(topic), kvs) for topic, kvs in effects.derived.items())
        for topic, items in by_topic.items():
            to = (
                progress_partition(partition, self.progress_partitions)
                if topic == names.progress
                else partition
            )
            for key, value in items:
                self._send(topic, key, value, to)
        for score_partition, scores in effects.scores.items():  # each on its ranking's own
            for key, value, _ in scores:
                self._send(names.scores, key, value, score_partition)
        for dead in effects.dead:
            log.warning("dead letter %s: %s", dead.id, dead.reason)
            self._send(names.dlq, None, encode_record(dead), -1)

    def _send(self, topic: str, key: bytes | None, value: bytes, partition: int) -> None:
        while True:  # partition -1: the producer's partitioner chooses
            try:
                self.producer.produce(topic, value, key, partition=partition)
                return
            except BufferError:  # the local queue is full: let librdkafka send some first
                self.producer.poll(0.05)

    def _failed(self, exc: KafkaException) -> None:
        """An abortable error: abort, drop the states and start again from the committed
        transactions. Anything else (fenced, fatal) ends the process: a new one takes over."""
        err = exc.args[0]
        if not err.txn_requires_abort():
            raise exc
        log.warning("transaction aborted (%s); restoring from the committed state", err)
        self.producer.abort_transaction(30)
        assigned = [tp.partition for tp in self.consumer.assignment()]
        self._take(assigned, seek=True)

    # --- ownership ------------------------------------------------------------------------

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._take([tp.partition for tp in partitions], seek=False)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:
            self.stores.pop(tp.partition, None)
        if partitions:
            log.info("revoked partitions %s", sorted(tp.partition for tp in partitions))

    def _take(self, partitions: list[int], *, seek: bool) -> None:
        """Committed offsets first (stable: a former owner's open transaction is settled),
        then the states, then the consumer at exactly those offsets."""
        started = time.monotonic()
        topic = self.config.input_topic
        asked = [TopicPartition(topic, p) for p in sorted(partitions)]
        committed = self.consumer.committed(asked, timeout=60) if asked else []
        latest = latest_states(self.config.bootstrap, self.config.names.state, sorted(partitions))
        at = [
            TopicPartition(topic, tp.partition, tp.offset if tp.offset >= 0 else OFFSET_BEGINNING)
            for tp in committed
        ]
        for p in partitions:
            self.stores[p] = StateStore(latest[p])
        if seek:
            for tp in at:
                self.consumer.seek(tp)
        else:
            self.consumer.assign(at)
        users = sum(len(v) for v in latest.values())
        log.info(
            "took partitions %s: %d users restored in %.2f s",
            sorted(partitions),
            users,
            time.monotonic() - started,
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="eos_v2_peer", description=__doc__)
    parser.add_argument("--input-topic", default="", help="default: the prefix's events topic")
    parser.add_argument("--instance", default="0", help="part of the transactional id")
    args = parser.parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    config = PeerConfig.from_settings(settings, args.input_topic, args.instance)
    peer = Peer(config, load_rules(settings.rules_path))
    stopped = [False]

    def stop(*_: Any) -> None:
        stopped[0] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    started = time.monotonic()
    log.info(
        "eos v2 peer started: group %s, id %s", config.names.worker_group, config.transactional_id
    )
    peer.run(stopped)
    log.info(
        "EOSV2 applied %d events in %d transactions, %.1f s",
        peer.applied,
        peer.transactions,
        time.monotonic() - started,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
