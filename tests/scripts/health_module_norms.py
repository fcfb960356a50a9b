"""Per-module gradient norms as torch computes them (p.grad.norm() of each parameter, put together per
module, submodules included) right after every backward call, written to argv[1]. Gradients of 32x32
weights: far more values than a capture keeps, so a norm shown must come from the recorded norms."""
import json
import math
import sys

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Sequential(nn.Linear(32, 32), nn.Tanh()), nn.Linear(32, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
after = []
for step in range(6):
    x, y = torch.randn(16, 10), torch.randn(16, 2)
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    norms = {}
    for name, module in model.named_modules(prefix="model"):
        grads = [p.grad.norm().item() for p in module.parameters() if p.grad is not None]
        if grads:
            norms[name] = math.sqrt(sum(g * g for g in grads))
    after.append(norms)
    opt.step()
with open(sys.argv[1], "w") as fh:
    json.dump(after, fh)
