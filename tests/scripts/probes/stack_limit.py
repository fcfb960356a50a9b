"""Probe: a training step leaves the process's resource limits as python leaves them."""
import resource

import torch

before = resource.getrlimit(resource.RLIMIT_STACK)
w = torch.randn(16, 16, requires_grad=True)
h = torch.randn(4, 16)
for _ in range(50):
    h = torch.tanh(h @ w)
h.sum().backward()
print("stack limit unchanged:", resource.getrlimit(resource.RLIMIT_STACK) == before)
