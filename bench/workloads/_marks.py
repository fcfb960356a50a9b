"""Marks around a workload's measured part. Under `python -m bench.instructions` (callgrind, started
with counting off) they turn instruction counting on and off; otherwise they do nothing."""

import os
import subprocess

_COUNTING = os.environ.get("BENCH_CALLGRIND") == "1"


def _instrument(state: str) -> None:
    if _COUNTING:
        subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], capture_output=True, check=True)


def start() -> None:
    _instrument("on")


def stop() -> None:
    _instrument("off")
