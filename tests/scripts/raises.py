"""Computes a little graph, then raises from inside a nested function."""
import torch

w = torch.ones(3, requires_grad=True)
loss = (w * 2).sum()
loss.backward()


def inner():
    raise ValueError("boom from the user")


def outer():
    inner()


outer()
