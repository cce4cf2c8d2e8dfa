"""The stream processes' GC policy: what is loaded at start is frozen, the young generation is
100,000 objects (CPython's default is 700)."""

from __future__ import annotations

import gc

from processors.runtime.gc_tuning import tune_gc


def test_tune_gc_freezes_what_is_loaded_and_raises_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        gc.unfreeze()
        assert gc.get_freeze_count() == 0
        tune_gc()
        assert gc.get_threshold() == (100_000, 50, 100)
        assert gc.get_freeze_count() > 1000  # the modules, rules and settings loaded so far
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
