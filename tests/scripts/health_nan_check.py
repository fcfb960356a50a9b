"""Inputs normalised per row: at step 7 a row of the batch is all zeros, 0/0 makes NaN in `xn`, and
the gradients turn NaN with it. What torch says at each step (is `xn` finite, is every .grad finite
after backward) is written to argv[1]. `--healthy` keeps every row non-zero."""
import json
import sys

import torch
from torch import nn

torch.manual_seed(0)
healthy = "--healthy" in sys.argv
model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
facts = {"forward_finite": [], "grads_finite": []}
for step in range(12):
    x = torch.randn(16, 4)
    if step == 7 and not healthy:
        x[3] = 0.0
    xn = x / x.norm(dim=1, keepdim=True)
    loss = model(xn).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    facts["forward_finite"].append(bool(torch.isfinite(xn).all()))
    facts["grads_finite"].append(all(bool(torch.isfinite(p.grad).all()) for p in model.parameters()))
    opt.step()
with open(sys.argv[1], "w") as fh:
    json.dump(facts, fh)
