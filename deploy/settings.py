"""One frozen settings object for every Podium process, read from `PODIUM_*` environment
variables (and `.env`) at the edge and passed down. No module reads the environment itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.topics import Topic, partitioned

REPO_DIR = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PODIUM_", env_file=".env", frozen=True, extra="ignore"
    )

    # Where the local stack keeps jars, data, logs and pid files.
    run_dir: Path = REPO_DIR / ".podium"
    # Ports of the local stack (`podium up`); ignored when the URLs below point elsewhere.
    kafka_port: int = 19092
    # How many KRaft nodes (broker and controller each) the local stack runs: 1, or a cluster
    # on consecutive ports from kafka_port (each node about 512 MB of heap; README).
    kafka_brokers: int = Field(default=1, ge=1)
    # The first node's controller port (unset: right after the brokers' ports, 19093 for one).
    kafka_controller_port: int | None = None
    # The local broker's JIT (deploy/local.py measures both): "serving" (C2) costs the broker
    # about a third less CPU per request once warm and starts 5-7 s slower; "quick-start" (C1
    # only) is what the tests run, which start brokers often and load them briefly.
    kafka_jvm: Literal["serving", "quick-start"] = "serving"
    redis_port: int = 16379
    gateway_port: int = 8080
    # Set these to use an existing broker / Redis instead of the local ones.
    kafka_bootstrap: str | None = None
    redis_url: str | None = None
    # Every topic name is prefixed with this (a namespace per deployment or test).
    topic_prefix: str = ""
    # Copies of each topic partition, and how many must have a write before acks=all answers
    # it (unset: 1/1 on one broker, 2/1 on two, 3/2 on three or more; `podium up` refuses a
    # factor larger than the cluster). Applies to topics `podium up` creates.
    topic_replication_factor: int | None = None
    topic_min_insync_replicas: int | None = None
    # Partitions of the user-keyed topics (podium.events and every topic aligned with it), and
    # of podium.scores with the topics aligned with it (podium.leaderboards, podium.ranking.state)
    # (unset: 12 each, schemas/topics.py), and of podium.progress (unset: 1; any count works:
    # the users of the events' partition p go to its partition p mod count). Applies to topics
    # `podium up` creates; a topic that exists keeps its count (docs/deploy.md says what a
    # repartition means).
    topic_partitions: int | None = Field(default=None, ge=1)
    topic_score_partitions: int | None = Field(default=None, ge=1)
    topic_progress_partitions: int | None = Field(default=None, ge=1)
    rules_path: Path = REPO_DIR / "deploy" / "rules.example.toml"

    # worker
    # Consumer group session timeout of a stream worker (the broker's minimum is 6000).
    worker_session_timeout_ms: int = 10_000
    # Kafka transaction timeout: an open transaction of a dead worker is aborted after this.
    transaction_timeout_ms: int = 10_000
    # How soon the transactional producer retries after a retriable error (librdkafka's
    # retry.backoff.ms, 100 by default). Mostly CONCURRENT_TRANSACTIONS: a transaction begun
    # while the broker still writes the last one's markers. 20 ms, the Java client's retry of
    # it (KAFKA-5477): at 100, commits close together waited 100 ms (docs/fast-path.md).
    transaction_retry_backoff_ms: int = 20
    # Records per fetch of a worker or ranker (across partitions).
    worker_max_records: int = 50_000
    # This worker's (and ranker's) name in its group: its transactional id is
    # "<group>.<worker id>". Stable across restarts (a restarted process aborts its former
    # incarnation's open transaction at once), never shared by two live processes. Empty: the
    # host's name (one worker per host or container).
    worker_id: str = ""
    # What is folded is committed this long after the first uncommitted record, or at once
    # when `worker_commit_bound` records wait; the fold waits when that many wait behind an
    # unfinished commit (docs/runtime.md).
    worker_commit_interval_ms: int = 100
    # ... or this long after a request first waits on it: a gateway waiting for ranks (the
    # ranker reads the worker's score changes once committed; docs/fast-path.md).
    worker_awaited_commit_ms: int = Field(default=20, ge=0)
    worker_commit_bound: int = 50_000
    # After a fenced or failed transaction, wait this long before retaking the partition.
    fence_backoff_s: float = 3.0
    # A partition stopped at a user whose stored state does not decode is retried this often.
    worker_blocked_retry_s: float = 30.0
    # Every process serves /metrics, /livez and /readyz on a port of its own
    # (processors/runtime/ops_server.py), bound to this address (0.0.0.0 in a pod).
    metrics_host: str = "127.0.0.1"
    # false: no such port, no lag sampling, no request timing (the benchmark's "off" arm)
    metrics_enabled: bool = True
    # Each process's port (0 = a free one, chosen at start and logged).
    gateway_metrics_port: int = 9100
    worker_metrics_port: int = 9101
    ranker_metrics_port: int = 9102
    projector_metrics_port: int = 9103
    webhooks_metrics_port: int = 9104
    # Where a process writes its metrics URL once it listens (the local stack sets it per
    # process, so that `podium status` prints it; unset: nowhere).
    metrics_url_file: Path | None = None
    # Liveness: a loop that has not polled its consumer for this long, outside a known wait
    # (a commit, a take, a rebuild: a broker outage is one), is wedged (/livez answers 503).
    live_poll_s: float = 30.0
    # Readiness: a consumer process owns partitions, each at most this many records behind.
    ready_lag_records: int = 10_000
    # Log level of worker / replay / tick processes.
    log_level: str = "INFO"
    # Logs as plain text, or one JSON object per line (`json`) for a log shipper.
    log_format: Literal["text", "json"] = "text"

    # gateway
    # SHA-256 hashes (hex, comma-separated) of the accepted API keys; `podium apikey` mints one.
    api_key_hashes: str = ""
    # Keys limited to some tenants: JSON, a key's hash -> the tenants (`Tenant-ID`) it may act
    # for, "" for the default tenant (no header): '{"<hash>": ["acme"]}'. A key not listed
    # acts for every tenant; a listed key is answered 403 for any other.
    api_key_tenants: dict[str, list[str]] = {}
    gateway_host: str = "127.0.0.1"
    # How long POST /metrics/{key}/event waits for the event's progress (0 = never: 202).
    gateway_wait_s: float = 2.0
    # Of that, how long an answer waits for the ranking stage's ranks once the progress is
    # there (EventResponse.leaderboards; a board not ranked by then is left out). 0: the
    # gateway asks for no ranks (the ranking stage pushes it none) and answers without them.
    gateway_rank_wait_s: float = 1.0
    # Where the gateway listens for the answers the workers push (docs/fast-path.md, "Answers
    # leave at the fold"): a name the workers can reach (the host's or container's), and a
    # port (0: a free one, chosen at start, so several gateways can share a host).
    gateway_answer_host: str = "127.0.0.1"
    gateway_answer_port: int = 0
    # How long a write may wait for the broker's acknowledgement before answering 503.
    gateway_publish_timeout_s: float = 5.0
    gateway_max_body_bytes: int = 1_048_576
    # The HTTP server's limits on the request target (path and query) and on the headers
    # together: over them it answers 414 / 431 before any route runs (ingest/server.py).
    gateway_max_url_bytes: int = 32 * 1024
    gateway_max_header_bytes: int = 32 * 1024
    gateway_linger_ms: int = 2
    # Requests per second per API key (a token bucket; 0 = no limit) and its burst
    # (0 = one second's worth); over it the gateway answers 429 with Retry-After.
    gateway_rate_limit_per_s: float = 0.0
    gateway_rate_limit_burst: float = 0.0
    # Namespace of the Redis read views (schemas/views.py).
    views_prefix: str = "podium:"

    # webhooks (`podium webhooks`, docs/webhooks.md)
    # One endpoint taking every type (named "default"); `podium run` starts the dispatcher
    # when it is set, or when `webhook_endpoints` has any.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    # More endpoints, as JSON: [{"name": "crm", "url": "https://...", "secret": "...",
    # "types": ["achievement.completed"], "include_backfilled": false}] (no types: every type).
    webhook_endpoints: list[dict[str, Any]] = []
    # Seconds before each retry (Trophy's: 3 retries from one minute, doubling), the timeout
    # of one attempt, and the deliveries held per endpoint before its partitions pause.
    webhook_retry_delays_s: list[float] = [60.0, 120.0, 240.0]
    webhook_timeout_s: float = 10.0
    webhook_max_pending: int = 10_000

    @property
    def topics(self) -> tuple[Topic, ...]:
        """The topic catalogue with the partition counts set here: what `podium up` creates."""
        return partitioned(
            self.topic_partitions,
            self.topic_score_partitions,
            progress=self.topic_progress_partitions,
        )

    @property
    def bootstrap(self) -> str:
        ports = range(self.kafka_port, self.kafka_port + self.kafka_brokers)
        return self.kafka_bootstrap or ",".join(f"127.0.0.1:{port}" for port in ports)

    @property
    def controller_port(self) -> int:
        return self.kafka_controller_port or self.kafka_port + self.kafka_brokers

    @property
    def api_keys(self) -> list[str]:
        return [h.strip() for h in self.api_key_hashes.split(",") if h.strip()]

    @property
    def redis(self) -> str:
        return self.redis_url or f"redis://127.0.0.1:{self.redis_port}/0"
