"""Probe: torch.jit.trace of a module (sizes are tensors while it traces) and of a function with a
Python-level branch (PyTorch's TracerWarning points at the script's line)."""

import warnings

import torch

warnings.simplefilter("always")
model = torch.nn.Linear(3, 2)
traced = torch.jit.trace(model, torch.ones(1, 3))


def clipped(x):
    if x.sum() > 0:
        return x * 2
    return x


traced_fn = torch.jit.trace(clipped, torch.ones(2))
print(traced(torch.ones(1, 3)).shape, traced_fn(torch.ones(2)).tolist())
