"""Gradient norms as PyTorch computes them (torch.linalg.vector_norm of .grad right after each
backward call), written to argv[1] so the tests can compare gradscope's norms with them.
Two micro-batches per optimizer step: .grad accumulates over the two calls of each step."""
import json
import sys

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
scale = torch.ones(3, requires_grad=True)
opt = torch.optim.Adam(list(model.parameters()) + [scale], lr=1e-2)
named = dict(model.named_parameters(prefix="model"), scale=scale)
seen = {name: [] for name in named}
for step in range(30):
    opt.zero_grad()
    for micro in range(2):
        x = torch.randn(8, 6)
        loss = ((model(x) * scale) ** 2).mean()
        loss.backward()
        for name, p in named.items():
            seen[name].append(torch.linalg.vector_norm(p.grad).item())
    opt.step()
if len(sys.argv) > 1:
    with open(sys.argv[1], "w") as fh:
        json.dump(seen, fh)
