"""Benchmark 5: a small MLP trained for many steps, backward every step."""

import json
import sys
import time

import torch

import _marks

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000

torch.set_num_threads(1)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
data = torch.randn(32, 16)
target = torch.randn(32, 1)
_marks.start()
start = time.perf_counter()
for step in range(STEPS):
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(data), target)
    loss.backward()
    optimizer.step()
loop_s = time.perf_counter() - start
_marks.stop()
print("BENCH " + json.dumps({"loop_s": loop_s, "loss": loss.item()}))
