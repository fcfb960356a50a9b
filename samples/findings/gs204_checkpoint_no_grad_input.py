"""Activation checkpointing on the first block, whose input does not require grad.

The reentrant `checkpoint` only builds a graph when one of its inputs requires grad; the raw
batch does not, so the first block's parameters never get a gradient.
"""
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

torch.manual_seed(0)
block1 = nn.Sequential(nn.Linear(12, 24), nn.GELU())
block2 = nn.Sequential(nn.Linear(24, 24), nn.GELU())
out = nn.Linear(24, 1)
params = [*block1.parameters(), *block2.parameters(), *out.parameters()]
optimizer = torch.optim.SGD(params, lr=0.01)

x, y = torch.randn(8, 12), torch.randn(8, 1)
h = checkpoint(block1, x, use_reentrant=True)
h = block2(h)
loss = nn.functional.mse_loss(out(h), y)
optimizer.zero_grad()
loss.backward()
optimizer.step()
print("block1[0].weight.grad is None:", block1[0].weight.grad is None)
