"""The stream runtime: the shell that runs the pure fold (`processors.fold`) on Kafka.

`batch` folds a batch of raw records (no I/O); `store` keeps one partition's user states;
`changelog` restores them from `podium.state`; `partition` owns one input partition's
transactional producer; `processors.worker` is the composition root.
"""
