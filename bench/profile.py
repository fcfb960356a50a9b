"""Profile one traced workload in-process: `python -m bench.profile WORKLOAD [ARGS...]`.

Runs the same stages as `gradscope trace` (gradscope.api.trace_target) under cProfile and prints
the functions that dominate, so an optimisation starts from a measurement, not a guess.
"""

import cProfile
import os
import pstats
import sys

from gradscope import runner
from gradscope.api import trace_target

WORKLOADS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workloads")


def main(argv: list[str]) -> None:
    name, args = argv[0], argv[1:]
    sort = os.environ.get("BENCH_PROFILE_SORT", "tottime")
    target = runner.resolve_script(os.path.join(WORKLOADS, f"{name}.py"))
    profiler = cProfile.Profile()
    profiler.enable()
    trace_target(target, args)
    profiler.disable()
    pstats.Stats(profiler, stream=sys.stdout).sort_stats(sort).print_stats(25)


if __name__ == "__main__":
    main(sys.argv[1:])
