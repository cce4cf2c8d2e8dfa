"""The cyclic garbage collector as a stream process holding many states wants it."""

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
