"""Mixed precision on the CPU with torch.amp.GradScaler: scale(loss).backward(), unscale_, clip, step,
update. At steps 3 and 7 a sqrt at 0 makes the bias gradients NaN (the forward pass stays finite): the
scaler skips those steps and halves its scale. Written to argv[1], per step: each parameter's gradient
norm right after backward (scaled) and after unscale_, the scale used, and whether every gradient
was finite."""
import json
import sys

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(4, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
named = dict(model.named_parameters(prefix="model"))
facts = {"scaled": [], "unscaled": [], "scale": [], "finite": []}
for step in range(12):
    x = torch.randn(8, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    loss = out.float().pow(2).mean()
    if step in (3, 7):
        loss = loss + torch.sqrt(model.bias.pow(2).sum() * 0.0)
    opt.zero_grad()
    scaler.scale(loss).backward()
    facts["scale"].append(scaler.get_scale())
    facts["scaled"].append({name: p.grad.norm().item() for name, p in named.items()})
    facts["finite"].append(all(bool(torch.isfinite(p.grad).all()) for p in named.values()))
    scaler.unscale_(opt)
    facts["unscaled"].append({name: p.grad.norm().item() for name, p in named.items()})
    torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
    scaler.step(opt)
    scaler.update()
with open(sys.argv[1], "w") as fh:
    json.dump(facts, fh)
