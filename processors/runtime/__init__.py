"""The stream runtime: the shell that runs the pure fold (`processors.core.fold`) on Kafka.

`step` is the one per-record step (decode, validate, key rule, fold, or a dead letter) that
the worker, the replay and the tests' oracle share; `batch` runs it over a batch of raw
records (no I/O); `store` keeps one partition's user states; `changelog` restores them from
`podium.state`; `stages` holds what the worker and the ranker fold; `outbox` is what they
folded and did not commit yet; `runner` is the fetch → fold → answer → commit runtime with
its one transactional producer (`producing`); `partition` is replay's per-partition producer;
`processors.worker` and `processors.ranker` are the composition roots.
"""
