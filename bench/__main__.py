"""`python -m bench [--quick] [--only NAME] [--device cuda]`: run the benchmarks, print one table,
and (for a full run) write it to bench/results.md with the machine, the date and torch's version."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import time

from bench import benchmarks
from bench.harness import HERE, ROOT

PEERS = ("torchviz", "torchview", "torchlens")


def machine() -> str:
    model, cores = "unknown CPU", 0
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("processor"):
                    cores += 1
    except OSError:
        pass
    import torch

    return (f"{model}, {cores or os.cpu_count()} logical CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, torch {torch.__version__}, torch threads 1")


def install_peers() -> None:
    """A separate venv for the peer tools, so they never become gradscope dependencies."""
    venv = os.path.join(HERE, ".peers")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    import torch

    pin = f"torch=={torch.__version__.split('+')[0]}"  # never let pip fetch another torch build
    subprocess.run([os.path.join(venv, "bin", "pip"), "install", "--quiet", pin, *PEERS, "graphviz"], check=True)


def table(rows) -> str:
    head = ("benchmark", "figure", "measured", "target", "met")
    body = [(b, f, v, t, "" if m is None else ("yes" if m else "NO")) for b, f, v, t, m in rows]
    widths = [max(len(str(r[i])) for r in [head, *body]) for i in range(5)]
    lines = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in [head, *body]]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat; does not write results.md")
    parser.add_argument("--only", action="append", choices=sorted(benchmarks.ALL), help="run only these")
    parser.add_argument("--device", default="cpu", help="device for the transformer benchmark (e.g. cuda)")
    parser.add_argument("--install-peers", action="store_true", help="create bench/.peers with the peer tools")
    parser.add_argument("--out", help="write the table here (default: bench/results.md for a full run)")
    args = parser.parse_args(argv)

    if args.install_peers or (not args.quick and not os.path.exists(benchmarks.PEERS_PY)
                              and (not args.only or "peers" in args.only)):
        try:
            install_peers()
        except (subprocess.CalledProcessError, OSError) as exc:
            print(f"bench: could not install the peer tools ({exc}); their rows say so", file=sys.stderr)
    names = args.only or list(benchmarks.ALL)
    if args.device != "cpu":
        names = [n for n in names if n == "transformer"]
    settings = benchmarks.Settings(args.quick, args.device)
    rows = []
    started = time.perf_counter()
    try:
        for name in names:
            print(f"bench: {name}...", file=sys.stderr, flush=True)
            t0 = time.perf_counter()
            try:
                rows.extend(benchmarks.ALL[name](settings))
            except RuntimeError as exc:
                rows.append((name, "did not run", "error", str(exc).splitlines()[0][:80], False))
            print(f"bench: {name} took {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(settings.tmp, ignore_errors=True)
    text = table(rows)
    print(text)
    out = args.out or (None if args.quick or args.only else os.path.join(HERE, "results.md"))
    if out:
        write_results(out, text, rows, time.perf_counter() - started, args)
        print(f"bench: wrote {os.path.relpath(out, ROOT)}", file=sys.stderr)
    return 0


def write_results(path: str, text: str, rows, seconds: float, args) -> None:
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    notes_path = os.path.join(HERE, "notes.md")
    notes = open(notes_path, encoding="utf-8").read() if os.path.exists(notes_path) else ""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("# gradscope benchmarks\n\n")
        fh.write(f"- Date: {now}\n- Machine: {machine()}\n- Device: {args.device}\n")
        fh.write(f"- Command: `python -m bench` ({'quick' if args.quick else 'full'}), took {seconds:.0f} s\n")
        fh.write("- Plain and traced runs alternate in one invocation; figures are medians; traced runs are "
                 "`python -m gradscope trace ...` in a fresh process, as a user runs it.\n\n")
        fh.write(text + "\n")
        if notes:
            fh.write("\n" + notes)


if __name__ == "__main__":
    sys.exit(main())
