"""Running one workload as a user would (a fresh process) and reading what it measured.

Each workload prints one line `BENCH {json}` with the times it measured itself; the harness adds
the process's wall time and peak RSS (from `os.wait4`, so it is the child's own peak, not ours).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKLOADS = os.path.join(HERE, "workloads")
PY = sys.executable
GRADSCOPE = [PY, "-m", "gradscope", "trace"]


@dataclass
class Run:
    wall_s: float
    maxrss_mb: float
    facts: dict = field(default_factory=dict)
    stderr: str = ""


def env() -> dict:
    out = dict(os.environ)
    out.update({"NO_COLOR": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"})
    out.pop("FORCE_COLOR", None)
    out["PYTHONPATH"] = ROOT + (os.pathsep + out["PYTHONPATH"] if out.get("PYTHONPATH") else "")
    return out


def run(cmd: list[str], *, python: str | None = None, timeout: float = 600, codes=(0,)) -> Run:
    """Run `cmd` to completion; raise with its stderr if it failed (exited with a code not in `codes`)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise RuntimeError(f"timed out after {timeout} s: {' '.join(cmd)}") from None
    wall = time.perf_counter() - start
    if proc.returncode not in codes:
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd)}\n{err[-3000:]}")
    facts = {}
    for line in out.splitlines():
        if line.startswith("BENCH "):
            facts.update(json.loads(line[6:]))
    return Run(wall, 0.0, facts, err)


def peak_rss(cmd: list[str], timeout: float = 900) -> Run:
    """Like `run`, but reaps the child with wait4 to read its own peak resident set size."""
    start = time.perf_counter()
    out_path = os.path.join(ROOT, f".bench-out-{os.getpid()}.txt")
    with open(out_path, "w+") as out, subprocess.Popen(cmd, cwd=ROOT, env=env(), stdout=out,
                                                         stderr=subprocess.DEVNULL) as proc:
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                raise RuntimeError(f"timed out after {timeout} s: {' '.join(cmd)}")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    os.unlink(out_path)
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd)}")
    facts = {}
    for line in text.splitlines():
        if line.startswith("BENCH "):
            facts.update(json.loads(line[6:]))
    return Run(time.perf_counter() - start, usage.ru_maxrss / 1024, facts)


def alternate(plain: list[str], traced: list[str], repeats: int) -> tuple[list[Run], list[Run]]:
    """Plain, traced, plain, traced...: drifts in machine load hit both sides alike."""
    plains, traceds = [], []
    for _ in range(repeats):
        plains.append(run(plain))
        traceds.append(run(traced))
    return plains, traceds


def median(values) -> float:
    return statistics.median(values)


def workload(name: str) -> str:
    return os.path.join(WORKLOADS, f"{name}.py")
