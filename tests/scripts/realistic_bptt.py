"""Truncated backpropagation through time with an RNNCell: the hidden state is detached per chunk."""
import torch
from torch import nn

torch.manual_seed(0)
cell = nn.RNNCell(3, 6)
readout = nn.Linear(6, 1)
opt = torch.optim.SGD(list(cell.parameters()) + list(readout.parameters()), lr=0.05)
seq = torch.randn(20, 2, 3)
target = torch.randn(20, 2, 1)
h = torch.zeros(2, 6)
for start in range(0, 20, 5):
    h = h.detach()
    loss = 0.0
    for t in range(start, start + 5):
        h = cell(seq[t], h)
        loss = loss + ((readout(h) - target[t]) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
last = h
