"""The Quix Streams peer of `podium worker`: the same fold writing the same outputs, as Quix
Streams does it (a stateful `apply` per record, exactly-once, state in its RocksDB store).

Reads the events topic in a group of its own; per record, Podium's own pure batch step
(`processors.runtime.batch.fold_batch` over that one record, with the user's state from Quix's
store) gives the user's next state and the encoded outputs. The state goes back to Quix's store,
whose changelog topic gets it once per key per checkpoint; the Progress, the facts
(achievements, streaks, points), the score changes and any dead letter go to the topics of
`--prefix` (the catalogue's names under it), keyed as the worker keys them. Quix chooses their
partitions from the key (the worker writes to the input's partition number, the progress to
that modulo its count, a score change to its ranking's): the counts per topic are the same,
the placement is not.

Quix's store holds serialized values, so a user's state is decoded and encoded at every event
(the worker keeps it decoded in memory and encodes it once per batch): that is Quix's
semantics, not a handicap added here.

Runs until SIGTERM, in a virtualenv of its own (quixstreams 3.28 pins confluent-kafka < 2.13):
`<venv>/bin/python -m tests.bench.launch tests.bench.quix_peer --bootstrap B --input-topic T
--group G --prefix P --rules R --state-dir D` with the repository on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NamedTuple

from quixstreams import Application, State, message_context
from quixstreams.models.serializers import SerializationContext, Serializer

from processors.runtime.batch import fold_batch
from processors.runtime.store import StateStore
from schemas.rules import Rules
from schemas.rules_parse import load_rules
from schemas.topics import Names
from tests.bench.peer_outputs import Out, outputs

STATE_KEY = "state"


class Rec(NamedTuple):
    offset: int
    key: bytes | None
    value: bytes | None


class OutValue(Serializer):
    """The encoded value of an `Out` (already encoded by Podium's encoders)."""

    def __call__(self, value: Out, ctx: SerializationContext) -> bytes:
        return value.value


def fold_one(value: bytes, key: bytes, state: State, rules: Rules, names: Names) -> list[Out]:
    ctx = message_context()
    raw = state.get(STATE_KEY)
    store = StateStore({} if raw is None else {key.decode(): raw.encode()})
    effects = fold_batch(store, [Rec(ctx.offset, key, value)], rules, ctx.topic, ctx.partition)
    for _, encoded in effects.encoded_states:
        state.set(STATE_KEY, encoded.decode())
    return outputs(effects, names)


def build(args: argparse.Namespace) -> Application:
    rules = load_rules(args.rules)
    names = Names(args.prefix)
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        processing_guarantee="exactly-once",
        loglevel="WARNING",
    )
    source = app.topic(args.input_topic, key_deserializer="bytes", value_deserializer="bytes")
    written = (names.progress, names.achievements, names.streaks, names.points, names.scores)
    targets = {
        name: app.topic(name, key_serializer="bytes", value_serializer=OutValue())
        for name in (*written, names.dlq)
    }

    def fold(value: bytes, key: bytes, _ts: int, _headers: Any, state: State) -> list[Out]:
        return fold_one(value, key, state, rules, names)

    def target(value: Out, *_: Any) -> Any:
        return targets[value.topic]

    sdf = app.dataframe(source)
    sdf = sdf.apply(fold, stateful=True, expand=True, metadata=True)
    sdf.to_topic(target, key=lambda value: value.key)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="quix_peer", description=__doc__)
    for name in ("bootstrap", "input-topic", "group", "prefix", "rules", "state-dir"):
        parser.add_argument(f"--{name}", required=True)
    app = build(parser.parse_args(argv))
    app.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
