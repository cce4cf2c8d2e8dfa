"""The cyclic garbage collector as a stream process holding many states wants it, and as the
gateway wants it: a batch of 1,000 events makes ~5,000 objects the collector tracks, which
with CPython's thresholds (700, 10, 10) is 7 young collections a request and a full one,
through every object of the process, every ~14 requests (the batch endpoint ran 94,000 and
107,000 events/s with the defaults, 135,000 and 151,000 tuned, alternating on 2026-12-07:
`tests/bench/bench_gateway.py`'s batch run, workers paused)."""

from __future__ import annotations

import gc

GC_THRESHOLDS = (100_000, 50, 100)
# False: leave CPython's defaults (only the benchmarks set it, to measure both ways).
ENABLED = True


def tune_gc() -> None:
    """The cyclic GC as a process holding many states wants it (bench_fold measures it): what
    is loaded at start is frozen out of every collection, and a young generation of 100,000
    objects, not 700, spares repeated traversals of the live states. The fold makes no
    reference cycles (a unit test checks), so less frequent collections keep nothing alive:
    reference counting frees the states it replaces. `tests/bench/bench_worker_gc.py` runs the
    worker both ways side by side."""
    if not ENABLED:
        return
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
