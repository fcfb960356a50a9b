"""The only graph lives inside a function: nothing at top level requires grad."""
import torch


def step():
    w = torch.ones(2, requires_grad=True)
    (w * 3).sum().backward()
    return w.grad


print(step().tolist())
