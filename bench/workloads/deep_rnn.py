"""Benchmark 3: an RNNCell unrolled many steps, one loss at the end, one backward."""

import json
import sys
import time

import torch

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000

torch.set_num_threads(1)
torch.manual_seed(0)
cell = torch.nn.RNNCell(8, 32)
inputs = torch.randn(STEPS, 1, 8)
start = time.perf_counter()
h = torch.zeros(1, 32)
for t in range(STEPS):
    h = cell(inputs[t], h)
loss = h.pow(2).sum()
loss.backward()
print("BENCH " + json.dumps({"run_s": time.perf_counter() - start}))
