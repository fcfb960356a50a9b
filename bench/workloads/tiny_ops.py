"""Benchmark 2: many elementwise ops on 2-element tensors, the scale of the seed's examples."""

import json
import sys
import time

import torch

import _marks

OPS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000

torch.set_num_threads(1)
torch.manual_seed(0)
x = torch.randn(2, requires_grad=True)
w = torch.randn(2)
for i in range(500):  # warm up: the first ops fill caches (names, lines, callers)
    y = x * w
    z = y + 1.0
_marks.start()
start = time.perf_counter()
for i in range(OPS // 2):
    y = x * w
    z = y + 1.0
ops_s = time.perf_counter() - start
_marks.stop()
z.sum().backward()
print("BENCH " + json.dumps({"ops_s": ops_s, "ops": OPS // 2 * 2}))
