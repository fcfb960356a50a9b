"""`python -m bench.ab REV [--repeats N]`: is this tree slower than gradscope at REV?

The benchmark rows of bench/results.md were measured on another day; a machine's speed drifts
(on 2026-11-29 the same plain runs took 3.5x longer than on 2026-11-27), so a row compared with the
table says little. This runs the per-op and per-step workloads under gradscope at REV (its
`gradscope/` package, taken with `git archive`) and under this tree, alternating with the plain run
in one invocation, and prints each median with new/old: the figure to read for "no row more than
5 % slower". Workloads are this tree's, so both sides run the same code.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time

from bench.harness import PY, ROOT, median, workload

# (name, workload arguments, the figure the workload measures itself; None: the whole process)
CASES = [
    ("tiny_ops", ["tiny_ops", "100000"], "ops_s"),
    ("loop", ["loop", "1000"], "loop_s"),
    ("transformer", ["transformer", "3", "cpu"], "steps_s"),
    ("assignments", ["assignments", "1000000"], "loop_s"),
    ("deep_rnn", ["deep_rnn", "20000"], None),
]


def _checkout(rev: str, into: str) -> str:
    """gradscope/ as it was at `rev`, unpacked under `into`."""
    archive = os.path.join(into, "old.tar")
    with open(archive, "wb") as fh:
        subprocess.run(["git", "archive", rev, "gradscope"], cwd=ROOT, stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(os.path.join(into, "old"), filter="data")
    return os.path.join(into, "old")


def _measure(side: str | None, argv: list[str], key: str | None) -> float:
    env = dict(os.environ, NO_COLOR="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [PY, *argv] if side is None else [PY, "-m", "gradscope", "trace", "-q", *argv]
    if side is not None:
        env["PYTHONPATH"] = side + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    start = time.perf_counter()
    # from a neutral folder: `python -m gradscope` must import the side's package, not the cwd's
    out = subprocess.run(cmd, cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    if key is None:
        return wall
    line = [text for text in out.stdout.splitlines() if text.startswith("BENCH ")][-1]
    return json.loads(line[len("BENCH "):])[key]


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.splitlines()[0])
    parser.add_argument("rev", help="the git revision to compare with (e.g. the one bench/results.md was measured at)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", action="append", choices=[name for name, _, _ in CASES],
                        help="run only this workload (repeatable)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sides = {"old": _checkout(args.rev, tmp), "new": ROOT}
        print(f"| workload | figure | plain | {args.rev[:10]} | this tree | new/old |")
        print("|---|---|---|---|---|---|")
        for name, (script, *rest), key in CASES:
            if args.only and name not in args.only:
                continue
            command = [workload(script), *rest]
            got: dict[str, list[float]] = {"plain": [], "old": [], "new": []}
            for _ in range(args.repeats):
                got["plain"].append(_measure(None, command, key))
                for side, path in sides.items():
                    got[side].append(_measure(path, command, key))
            p, o, n = (median(got[k]) for k in ("plain", "old", "new"))
            print(f"| {name} | {key or 'whole process, s'} | {p:.3f} | {o:.3f} ({o / p:.2f}x) | "
                  f"{n:.3f} ({n / p:.2f}x) | {n / o:.3f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
