"""Probe: PyTorch's own warnings point at the script's line, whatever kind of call raised them
(a value read such as float(), a non-leaf's .grad, a copy-construct, one inside a function)."""

import warnings

import torch

warnings.simplefilter("always")  # every warning printed, each with the line it is attributed to

w = torch.ones((), requires_grad=True)
scale = float(w)
y = (w * 2).sum()
print("non-leaf grad", y.grad)
copy = torch.tensor(w)


def weight_of(t):
    return torch.tensor(t * 3)


print(scale, weight_of(w).item(), copy.requires_grad)
