"""Start a benchmarked process under the benchmarks' one garbage-collector policy:
`python -m tests.bench.launch <module> [args...]` runs `<module>` as `__main__`.

Every runtime peer, the Podium worker and the ceiling start this way, each in a process of its
own, so none inherits the benchmark's own interpreter (bench_fold's `gc.freeze()`, warm
imports). `PODIUM_BENCH_GC` chooses the policy, the same for all of them:
- `default` (the default): Python's own collector settings, untouched;
- `frozen`: the module and its imports are loaded, then `gc.freeze()` and thresholds of
  (100,000, 50, 100), as bench_fold measures the fold (the fold creates no reference cycles);
  the module's top level then runs again as `__main__` (the launched modules only define
  things there: their work starts under `if __name__ == "__main__"`).
The process's own code may still change them (the worker does not today).
"""

from __future__ import annotations

import gc
import importlib
import os
import runpy
import sys

POLICIES = ("default", "frozen")
FROZEN_THRESHOLDS = (100_000, 50, 100)


def policy() -> str:
    chosen = os.environ.get("PODIUM_BENCH_GC", "default")
    if chosen not in POLICIES:
        raise SystemExit(f"PODIUM_BENCH_GC={chosen!r}: choose one of {', '.join(POLICIES)}")
    return chosen


def main(argv: list[str]) -> None:
    if not argv:
        raise SystemExit("usage: python -m tests.bench.launch <module> [args...]")
    module, *args = argv
    chosen = policy()
    if chosen == "frozen":
        importlib.import_module(module)  # its imports loaded once; run_module reuses them
        del sys.modules[module]  # and runs the module itself afresh, as __main__
        gc.collect()
        gc.freeze()
        gc.set_threshold(*FROZEN_THRESHOLDS)
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
