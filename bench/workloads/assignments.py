"""Benchmark: 3M plain-Python assignments (1M loop steps, each binding `i`, `a` and `total`), no
tensor at all. Under gradscope every assignment passes the binding hook: this measures its cost."""

import json
import sys
import time

import _marks

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000

_marks.start()
start = time.perf_counter()
total = 0
for i in range(STEPS):
    a = i * 2
    total += a
loop_s = time.perf_counter() - start
_marks.stop()
print("BENCH " + json.dumps({"loop_s": loop_s, "assignments": STEPS * 3}))
