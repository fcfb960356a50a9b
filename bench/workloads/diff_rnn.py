"""The two sides of the `diff` benchmark: an RNNCell unrolled STEPS times, one backward at the end.

`python diff_rnn.py STEPS a` is the baseline; `... b` is the "next commit": the hidden-to-hidden bias
is frozen, and a linear probe reads the detached final state with a backward call of its own (a new
parameter, a new cut, a new root), on a graph of the same size.
"""

import json
import sys
import time

import torch

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 17_000
VARIANT = sys.argv[2] if len(sys.argv) > 2 else "a"

torch.set_num_threads(1)
torch.manual_seed(0)
cell = torch.nn.RNNCell(8, 32)
if VARIANT == "b":
    cell.bias_hh.requires_grad_(False)
    probe = torch.nn.Linear(32, 1)
inputs = torch.randn(STEPS, 1, 8)
start = time.perf_counter()
h = torch.zeros(1, 32)
for t in range(STEPS):
    h = cell(inputs[t], h)
loss = h.pow(2).sum()
loss.backward()
if VARIANT == "b":
    features = h.detach()
    probe_loss = probe(features).pow(2).sum()
    probe_loss.backward()
print("BENCH " + json.dumps({"run_s": time.perf_counter() - start}))
