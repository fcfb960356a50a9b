"""Names inside functions, several backward call sites, a loop, and top-level results."""
import torch


def make(n):
    weights = torch.ones(n, requires_grad=True)
    return weights


def step(w, scale):
    loss = (w * scale).sum()
    loss.backward()
    return loss


w = make(3)
for i in range(5):
    step(w, float(i))
aux = (w ** 2).sum()
aux.backward()
total = w.sum() * 2
