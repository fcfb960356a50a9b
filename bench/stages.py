"""Time gradscope's stages in one process: `python -m bench.stages WORKLOAD OUT_DIR [ARGS...]`.

Used for deep_rnn, whose figures are per stage (record + walk + tree, DOT export), and which must
show that no stage recursed. Runs the same functions the CLI runs.
"""

from __future__ import annotations

import json
import os
import sys
import time

import torch  # noqa: F401 - imported before the clock starts, as the plain run's figure excludes it

from gradscope import runner
from gradscope.api import trace_target
from gradscope.output import render_bytes
from gradscope.render.tree import render_text

from bench.harness import workload
from bench.workloads import _marks


def main(argv: list[str]) -> None:
    name, out_dir, args = argv[0], argv[1], argv[2:]
    facts: dict = {"recursion_error": None}
    try:
        _marks.start()  # (bench.instructions counts record + walk + tree)
        start = time.perf_counter()
        result = trace_target(runner.resolve_script(workload(name)), args)
        traced = time.perf_counter()
        tree = render_text(result.capture)
        _marks.stop()
        facts["record_walk_tree_s"] = time.perf_counter() - start
        facts["tree_s"] = time.perf_counter() - traced
        facts["tree_lines"] = tree.count("\n")
        facts["nodes"] = len(result.capture.nodes)
        facts["edges"] = len(result.capture.edges)
        start = time.perf_counter()
        dot = render_bytes(result.capture, "dot", {})
        facts["dot_s"] = time.perf_counter() - start
        facts["dot_bytes"] = len(dot)
        start = time.perf_counter()
        text = result.capture.dumps()
        facts["json_s"] = time.perf_counter() - start
        with open(os.path.join(out_dir, f"{name}.json"), "w", encoding="utf-8") as fh:
            fh.write(text)
    except RecursionError as exc:
        facts["recursion_error"] = str(exc)
    print("BENCH " + json.dumps(facts))


if __name__ == "__main__":
    main(sys.argv[1:])
