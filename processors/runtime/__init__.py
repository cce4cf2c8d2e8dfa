"""The stream runtime: the shell that runs the pure fold (`processors.core.fold`) on Kafka.

`step` is the one per-record step (decode, validate, key rule, fold, or a dead letter) that
the worker, the replay and the tests' oracle share; `batch` runs it over a batch of raw
records (no I/O); `store` keeps one partition's user states; `changelog` restores them from
`podium.state`; `partition` owns one input partition's transactional producer; `runner` is
the consume → fold → transact loop; `processors.worker` is the composition root.
"""
