"""`python -m bench.instructions REV [--only NAME]`: instructions per op / step, this tree against REV.

On a shared or throttled machine two timed runs of one command can differ by 2x (bench/notes.md), so
"is this row more than 5 % slower?" cannot be read from times. Valgrind's callgrind counts the
instructions a process executes, which do not depend on the machine's load. Each workload marks its
measured part (bench/workloads/_marks.py turns counting on and off); the count is divided by its ops
or steps. Runs plain, gradscope at REV (its `gradscope/`, as `bench.ab` takes it) and this tree, two
processes at a time. Needs `valgrind` (Debian: `apt-get install valgrind`); about a minute per run.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from bench.ab import _checkout
from bench.harness import PY, ROOT, workload

# (name, workload arguments, what the count is divided by, what that is)
CASES = [
    ("tiny_ops", ["tiny_ops", "4000"], 4000, "op"),
    ("loop", ["loop", "200"], 200, "step"),
    ("deep_rnn", ["deep_rnn", "3000"], 3000, "step: record + walk + tree, as bench.stages"),
    ("assignments", ["assignments", "300000"], 900_000, "assignment"),
    ("opaque_assignments", ["opaque_assignments", "300000"], 900_000, "assignment"),
]
# deep_rnn's figure is in-process stages (bench/stages.py marks them); plain: the script alone
_PLAIN_SCRIPT = ("import runpy, sys, torch; from bench.workloads import _marks; sys.argv = sys.argv[1:]; "
                 "_marks.start(); runpy.run_path(sys.argv[0], run_name='__main__'); _marks.stop()")


def _command(side: str | None, name: str, argv: list[str], tmp: str) -> list[str]:
    if name == "deep_rnn":
        if side is None:
            return [PY, "-c", _PLAIN_SCRIPT, *argv]
        return [PY, "-m", "bench.stages", os.path.basename(argv[0])[:-3], tmp, *argv[1:]]
    return [PY, *argv] if side is None else [PY, "-m", "gradscope", "trace", "-q", *argv]


def _count(side: str | None, name: str, argv: list[str], tmp: str, label: str) -> int:
    env = dict(os.environ, NO_COLOR="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", BENCH_CALLGRIND="1")
    command = _command(side, name, argv, tmp)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (side, ROOT, env.get("PYTHONPATH")) if p)
    out = os.path.join(tmp, f"callgrind.{label}")
    done = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                           *command], cwd=tmp, env=env, capture_output=True, text=True, check=True)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise SystemExit(f"callgrind reported no count for {' '.join(argv)}:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions", description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare with")
    parser.add_argument("--only", action="append", choices=[name for name, _, _, _ in CASES])
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("bench.instructions needs valgrind (apt-get install valgrind)")
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=2) as pool:
        sides = {"plain": None, "old": _checkout(args.rev, tmp), "new": ROOT}
        print(f"| workload | per | plain | {args.rev[:10]} | this tree | new/old |")
        print("|---|---|---|---|---|---|")
        for name, (script, *rest), per, unit in CASES:
            if args.only and name not in args.only:
                continue
            command = [workload(script), *rest]
            futures = {side: pool.submit(_count, path, name, command, tmp, f"{name}.{side}") for side, path in sides.items()}
            p, o, n = (futures[side].result() / per for side in ("plain", "old", "new"))
            print(f"| {name} | {unit} | {p:,.0f} | {o:,.0f} ({o / p:.2f}x) | {n:,.0f} ({n / p:.2f}x) | {n / o:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
