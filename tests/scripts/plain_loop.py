"""A plain Python loop, no nn.Module: x = tanh(x * w + 1), STEPS times (default 100)."""
import sys

import torch

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 100
w = torch.tensor([0.5, 1.5], requires_grad=True)
x = torch.ones(2)
for _ in range(steps):
    x = torch.tanh(x * w + 1)
x.sum().backward()
print(steps, w.grad.tolist())
