"""PEFT-style freezing: one line freezes every parameter of a backbone (24 of them, more than any
per-line cap), a head trains. Prints, per parameter, what PyTorch says: requires_grad, .grad None."""
import json

import torch
from torch import nn

backbone = nn.Sequential(*[nn.Linear(4, 4) for _ in range(12)])
head = nn.Linear(4, 1)
for p in backbone.parameters():
    p.requires_grad_(False)
opt = torch.optim.SGD(head.parameters(), lr=0.1)
for step in range(3):
    opt.zero_grad()
    loss = head(backbone(torch.randn(8, 4))).pow(2).mean()
    loss.backward()
    opt.step()
params = {f"backbone.{n}": p for n, p in backbone.named_parameters()}
params.update({f"head.{n}": p for n, p in head.named_parameters()})
print(json.dumps({n: {"requires_grad": p.requires_grad, "grad_is_none": p.grad is None} for n, p in params.items()}))
