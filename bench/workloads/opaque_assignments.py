"""Benchmark: 3M plain-Python assignments (1M loop steps binding `v`, `w` and `total`) whose values
gradscope cannot prove plain from the source (an item of a list, arithmetic on it), so each binding
keeps its run-time check. Its sibling `assignments.py` measures a loop whose bindings are proven."""

import json
import sys
import time

import _marks

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
values = [float(k) for k in range(64)]

_marks.start()
start = time.perf_counter()
total = 0.0
for i in range(STEPS):
    v = values[i & 63]
    w = v * 0.5
    total += w
loop_s = time.perf_counter() - start
_marks.stop()
print("BENCH " + json.dumps({"loop_s": loop_s, "assignments": STEPS * 3}))
