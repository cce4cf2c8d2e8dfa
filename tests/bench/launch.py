"""Start a benchmarked process under the benchmarks' one garbage-collector policy:
`python -m tests.bench.launch <module> [args...]` runs `<module>` as `__main__`.

Every runtime peer, the Podium worker and the ceiling start this way, each in a process of its
own, so none inherits the benchmark's own interpreter (bench_fold's `gc.freeze()`, warm
imports). `PODIUM_BENCH_GC` chooses the policy, the same for all of them:
- `tuned` (the default): what the Podium worker does to itself in production
  (`processors.runtime.gc_tuning.tune_gc`): the module and its imports are loaded, then
  `gc.freeze()` and thresholds of (100,000, 50, 100), as bench_fold measures the fold (the
  fold creates no reference cycles); the module's top level then runs again as `__main__`
  (the launched modules only define things there: their work starts under
  `if __name__ == "__main__"`);
- `default`: Python's own collector settings, untouched, and the worker's own tuning switched
  off (`gc_tuning.ENABLED`), so no process tunes it.
"""

from __future__ import annotations

import gc
import importlib
import os
import runpy
import sys

from processors.runtime import gc_tuning

POLICIES = ("tuned", "default")


def policy() -> str:
    chosen = os.environ.get("PODIUM_BENCH_GC", "tuned")
    if chosen not in POLICIES:
        raise SystemExit(f"PODIUM_BENCH_GC={chosen!r}: choose one of {', '.join(POLICIES)}")
    return chosen


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m tests.bench.launch <module> [args...]")
    module, *args = argv
    chosen = policy()
    if chosen == "default":
        gc_tuning.ENABLED = False
    if chosen == "tuned":
        importlib.import_module(module)  # its imports loaded once; run_module reuses them
        del sys.modules[module]  # and runs the module itself afresh, as __main__
        gc.collect()
        gc.freeze()
        gc.set_threshold(*gc_tuning.GC_THRESHOLDS)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
