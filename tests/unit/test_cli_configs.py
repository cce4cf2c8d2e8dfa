"""The CLI is the only reader of the settings: each process gets a narrow frozen config built
from them, with the settings' values (given here literally) and the one set of names."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from deploy.cli import (
    build_parser,
    gateway_config,
    projector_config,
    ranker_config,
    replay_config,
    tick_config,
    worker_config,
)
from deploy.settings import Settings

SETTINGS = Settings(
    kafka_bootstrap="kafka.example:9092",
    redis_url="redis://redis.example:6379/2",
    topic_prefix="t1.",
    worker_session_timeout_ms=6_000,
    transaction_timeout_ms=8_000,
    worker_max_records=1_234,
    worker_id="w-7",
    worker_commit_interval_ms=40,
    worker_awaited_commit_ms=7,
    worker_commit_bound=900,
    fence_backoff_s=0.5,
    metrics_host="0.0.0.0",
    worker_metrics_port=9201,
    ranker_metrics_port=9202,
    projector_metrics_port=9203,
    gateway_metrics_port=9200,
    live_poll_s=12.5,
    ready_lag_records=77,
    api_key_hashes="aa, bb ,",
    gateway_wait_s=0.0,
    gateway_publish_timeout_s=1.5,
    gateway_max_body_bytes=4096,
    gateway_linger_ms=7,
    views_prefix="v:",
)


def test_the_worker_config_carries_the_worker_settings() -> None:
    config = worker_config(SETTINGS)
    assert (config.bootstrap, config.names.events, config.names.worker_group) == (
        "kafka.example:9092",
        "t1.podium.events",
        "t1.podium.worker",
    )
    assert (config.session_timeout_ms, config.transaction_timeout_ms) == (6_000, 8_000)
    assert (config.max_records, config.fence_backoff_s) == (1_234, 0.5)
    assert config.ops is not None
    assert (config.ops.host, config.ops.port) == ("0.0.0.0", 9201)
    assert (config.ops.live_poll_s, config.ops.ready_lag_records) == (12.5, 77)
    runtime = config.runtime(config.names.worker_group)
    assert (runtime.transactional_id, runtime.commit_interval_s, runtime.commit_bound) == (
        "t1.podium.worker.w-7",
        0.04,
        900,
    )
    assert runtime.awaited_commit_s == 0.007
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.max_records = 1  # type: ignore[misc]


def test_the_worker_id_defaults_to_the_host_s_name() -> None:
    config = worker_config(Settings(topic_prefix="t1."))
    host = socket.gethostname()
    assert config.runtime("g").transactional_id == f"g.{host}"


def test_the_ranker_config_carries_the_worker_s_kafka_settings() -> None:
    config = ranker_config(SETTINGS)
    assert (config.names.scores, config.names.leaderboards, config.names.ranking_group) == (
        "t1.podium.scores",
        "t1.podium.leaderboards",
        "t1.podium.ranking",
    )
    # one transactional id per process, its group's: never the worker's
    assert config.runtime(config.names.ranking_group).transactional_id == "t1.podium.ranking.w-7"
    assert (config.session_timeout_ms, config.transaction_timeout_ms) == (6_000, 8_000)
    assert (config.max_records, config.fence_backoff_s) == (1_234, 0.5)
    assert config.ops is not None and config.ops.port == 9202


def test_the_other_process_configs() -> None:
    replay = replay_config(SETTINGS, strict=True)
    assert (replay.names.prefix, replay.transaction_timeout_ms, replay.strict) == (
        "t1.",
        8_000,
        True,
    )
    assert tick_config(SETTINGS).names.state == "t1.podium.state"
    projector = projector_config(SETTINGS)
    assert (projector.redis_url, projector.views_prefix) == ("redis://redis.example:6379/2", "v:")
    assert projector.names.projector_group == "t1.podium.projector"
    assert projector.ops is not None and projector.ops.port == 9203
    gateway = gateway_config(SETTINGS)
    assert gateway.api_keys == ("aa", "bb")
    assert gateway.ops is not None and (gateway.ops.host, gateway.ops.port) == ("0.0.0.0", 9200)
    assert (gateway.wait_s, gateway.publish_timeout_s) == (0.0, 1.5)
    assert (gateway.max_body_bytes, gateway.linger_ms, gateway.names.progress) == (
        4096,
        7,
        "t1.podium.progress",
    )


def test_replay_takes_strict_and_follow() -> None:
    args = build_parser().parse_args(["replay", "--strict", "--follow"])
    assert (args.strict, args.follow) == (True, True)
    assert build_parser().parse_args(["replay"]).strict is False


def test_every_long_running_process_runs_on_uvloop() -> None:
    """worker, ranker, projector, replay and tick go through `_serve`; the gateway asks uvicorn
    for its "uvloop" loop (`cmd_gateway`)."""
    import asyncio

    import uvloop

    from deploy.cli import _serve

    seen: list[type] = []

    async def main(stop: asyncio.Event) -> None:
        seen.append(type(asyncio.get_running_loop()))

    assert _serve(SETTINGS, main) == 0
    assert seen == [uvloop.Loop]
    import inspect

    import uvicorn

    from deploy.cli import cmd_gateway

    assert 'loop="uvloop"' in inspect.getsource(cmd_gateway)
    factory = uvicorn.Config(app="ingest.app:create_app", loop="uvloop").get_loop_factory()
    assert factory is not None
    loop = factory()
    try:
        assert isinstance(loop, uvloop.Loop)
    finally:
        loop.close()


def test_metrics_switched_off_serve_nothing() -> None:
    off = SETTINGS.model_copy(update={"metrics_enabled": False})
    assert worker_config(off).ops is None and gateway_config(off).ops is None
    assert ranker_config(off).ops is None and projector_config(off).ops is None


def test_api_key_tenants_are_read_as_json_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PODIUM_API_KEY_TENANTS", '{"aa": ["acme", ""], "bb": []}')
    gateway = gateway_config(Settings(api_key_hashes="aa,bb"))
    assert gateway.api_key_tenants == {"aa": ("acme", ""), "bb": ()}
