"""The local cluster's layout from the settings: one broker is the plain `kafka` node 1; three
are nodes 1-3 on consecutive client ports, their controllers on the ports after them, one
quorum of all three, and the clients bootstrap from every broker."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.local import KafkaCluster, StartError
from deploy.settings import Settings
from deploy.stack import Stack


def test_one_broker_is_the_plain_node_with_its_controller_port_after_it(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path, kafka_port=20000)
    [broker] = Stack.local(settings).kafka.brokers
    assert (broker.name, broker.node_id, broker.port, broker.controller_port) == (
        "kafka",
        1,
        20000,
        20001,
    )
    assert broker.home == tmp_path / "kafka"
    assert broker.voters == "1@127.0.0.1:20001"
    assert settings.bootstrap == "127.0.0.1:20000"


def test_three_brokers_on_consecutive_ports_one_quorum(tmp_path: Path) -> None:
    settings = Settings(run_dir=tmp_path, kafka_port=20000, kafka_brokers=3)
    brokers = Stack.local(settings).kafka.brokers
    assert [(b.name, b.node_id, b.port, b.controller_port) for b in brokers] == [
        ("kafka-1", 1, 20000, 20003),
        ("kafka-2", 2, 20001, 20004),
        ("kafka-3", 3, 20002, 20005),
    ]
    assert [b.home for b in brokers] == [tmp_path / f"kafka-{i}" for i in (1, 2, 3)]
    quorum = "1@127.0.0.1:20003,2@127.0.0.1:20004,3@127.0.0.1:20005"
    assert {b.voters for b in brokers} == {quorum}
    assert settings.bootstrap == "127.0.0.1:20000,127.0.0.1:20001,127.0.0.1:20002"


def test_each_node_config_names_its_node_the_quorum_and_three_copies_inside(
    tmp_path: Path,
) -> None:
    cluster = KafkaCluster([tmp_path / "a", tmp_path / "b", tmp_path / "c"], 20000, 21000, tmp_path)
    props = cluster.brokers[1]._write_config().read_text().splitlines()
    assert "node.id=2" in props
    assert "controller.quorum.voters=1@127.0.0.1:21000,2@127.0.0.1:21001,3@127.0.0.1:21002" in props
    assert "listeners=PLAINTEXT://127.0.0.1:20001,CONTROLLER://127.0.0.1:21001" in props
    for line in ("offsets.topic.replication.factor=3", "transaction.state.log.min.isr=2"):
        assert line in props
    alone = KafkaCluster([tmp_path / "d"], 20000, 20001, tmp_path).brokers[0]
    props = alone._write_config().read_text().splitlines()
    assert "transaction.state.log.replication.factor=1" in props and "node.id=1" in props


def test_controller_ports_overlapping_the_brokers_are_refused_saying_which(
    tmp_path: Path,
) -> None:
    with pytest.raises(
        StartError, match=r"controller ports 20001-20003 overlap the broker ports 20000-20002"
    ):
        KafkaCluster([tmp_path / str(i) for i in range(3)], 20000, 20001, tmp_path)


def test_a_serving_broker_compiles_with_c2_and_a_quick_start_one_with_c1_only(
    tmp_path: Path,
) -> None:
    for jvm, c1_only in (("serving", False), ("quick-start", True)):
        settings = Settings(run_dir=tmp_path, kafka_brokers=3, kafka_jvm=jvm)  # type: ignore[arg-type]
        for broker in Stack.local(settings).kafka.brokers:
            assert ("-XX:TieredStopAtLevel=1" in broker.jvm_opts) is c1_only
            assert "-XX:+UseSerialGC" in broker.jvm_opts and "-Xmx512m" in broker.jvm_opts
    with pytest.raises(ValueError, match="kafka_jvm"):
        Settings(run_dir=tmp_path, kafka_jvm="c3")  # type: ignore[arg-type]
