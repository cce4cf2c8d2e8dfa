"""How the topics are replicated: from the settings, or by default from the cluster's size
(1/1 on one broker, 2/1 on two, 3/2 on three or more), and refused, saying why, when the
cluster cannot hold it."""

from __future__ import annotations

import pytest

from deploy.local import StartError
from deploy.stack import Replication, replication


@pytest.mark.parametrize(
    ("brokers", "expected"),
    [
        (1, Replication(1, 1)),
        (2, Replication(2, 1)),
        (3, Replication(3, 2)),
        (5, Replication(3, 2)),
    ],
)
def test_the_default_follows_the_cluster(brokers: int, expected: Replication) -> None:
    assert replication(brokers, None, None) == expected


def test_the_settings_win_within_the_cluster() -> None:
    assert replication(3, 2, None) == Replication(2, 1)
    assert replication(3, 3, 3) == Replication(3, 3)
    assert replication(5, 5, 3) == Replication(5, 3)


def test_a_factor_larger_than_the_cluster_is_refused_naming_both() -> None:
    with pytest.raises(
        StartError, match=r"^replication factor 3 is larger than the cluster \(1 broker\)$"
    ):
        replication(1, 3, None)
    with pytest.raises(StartError, match=r"\(2 brokers\)"):
        replication(2, 3, None)


def test_a_minimum_beyond_the_factor_or_a_factor_below_one_is_refused() -> None:
    with pytest.raises(StartError, match=r"min\.insync\.replicas 3 must be between 1 and"):
        replication(3, 2, 3)
    with pytest.raises(StartError, match="at least 1"):
        replication(3, 0, None)
