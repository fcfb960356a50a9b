"""Gradients that are not finite: -inf and inf from divisions by zero, nan from 0 * inf. Prints them as text."""
import json

import torch

x = torch.tensor([1.0, 0.0], requires_grad=True)
z = torch.tensor([0.0], requires_grad=True)
y = torch.tensor([2.0, 3.0], requires_grad=True)
loss = (1 / x).sum() - (1 / z).sum() + (y * float("inf") * 0).sum()
loss.backward()
print(json.dumps({name: [str(v) for v in t.grad.tolist()] for name, t in (("x", x), ("z", z), ("y", y))}))
