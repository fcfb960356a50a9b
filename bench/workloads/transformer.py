"""Benchmark 1: a 6-layer TransformerEncoder trained for a few steps (plain or under gradscope)."""

import json
import sys
import time

import torch

STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 3  # 0: one forward pass, no backward
DEVICE = sys.argv[2] if len(sys.argv) > 2 else "cpu"

torch.set_num_threads(1)
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model=256, nhead=8, dim_feedforward=1024, batch_first=True)
model = torch.nn.TransformerEncoder(layer, num_layers=6).to(DEVICE)
head = torch.nn.Linear(256, 1).to(DEVICE)
optimizer = torch.optim.SGD(list(model.parameters()) + list(head.parameters()), lr=0.01)
x = torch.randn(8, 128, 256, device=DEVICE)
target = torch.randn(8, 128, 1, device=DEVICE)


def sync():
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


sync()
start = time.perf_counter()
if STEPS == 0:  # one forward pass only, like the peer tools that draw a model by running it
    out = head(model(x))
    loss = out.mean()
for step in range(STEPS):
    optimizer.zero_grad()
    out = head(model(x))
    loss = torch.nn.functional.mse_loss(out, target)
    loss.backward()
    optimizer.step()
sync()
steps_s = time.perf_counter() - start
print("BENCH " + json.dumps({"steps_s": steps_s, "loss": loss.item()}))
