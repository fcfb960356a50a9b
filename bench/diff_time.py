"""`python -m bench.diff_time A.json B.json`: time `gradscope diff` in process, stage by stage (the
functions the command runs: load both, compare, render), beside the plain measurement of parsing
both files with the standard library's `json.loads`. Wall seconds, and the CPU seconds of the whole."""

from __future__ import annotations

import json
import sys
import time

from gradscope.analyse.diff import diff
from gradscope.commands import load_capture
from gradscope.render.diff import render_text


def main(a_path: str, b_path: str) -> None:
    start = time.perf_counter()
    for path in (a_path, b_path):
        with open(path, encoding="utf-8") as fh:
            json.loads(fh.read())
    plain = time.perf_counter() - start

    cpu, start = time.process_time(), time.perf_counter()
    a, b = load_capture(a_path), load_capture(b_path)
    loaded = time.perf_counter()
    result = diff(a, b)
    compared = time.perf_counter()
    text = render_text(result, a_path, b_path)
    done = time.perf_counter()
    print("BENCH " + json.dumps({"json_s": plain, "load_s": loaded - start, "diff_s": compared - loaded,
                                 "render_s": done - compared, "total_s": done - start,
                                 "total_cpu_s": time.process_time() - cpu, "nodes": [len(a.nodes), len(b.nodes)],
                                 "changes": len(result.changes), "lines": text.count("\n")}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
