"""Gradient clipping: clip_grad_norm_ to 0.5 after every backward call. Written to argv[1]: the max_norm,
and per step the total norm torch returned (before clipping) and the total norm after clipping.
`--positional` passes max_norm positionally, as clip_grad_norm_(params, 0.5)."""
import json
import sys

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.5)
facts = {"max_norm": 0.5, "before": [], "after": []}
for step in range(12):
    x = torch.randn(32, 6)
    loss = (model(x) - 3.0).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    if "--positional" in sys.argv:
        total = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    else:
        total = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
    facts["before"].append(total.item())
    facts["after"].append(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()])).item())
    opt.step()
with open(sys.argv[1], "w") as fh:
    json.dump(facts, fh)
