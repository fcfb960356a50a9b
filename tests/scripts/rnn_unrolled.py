"""An RNNCell (hidden 32) unrolled STEPS times (default 5,000): the shared weights fan out to every step."""
import sys

import torch
from torch import nn

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
torch.manual_seed(0)
cell = nn.RNNCell(8, 32)
inputs = torch.randn(steps, 1, 8)
h = torch.zeros(1, 32)
for t in range(steps):
    h = cell(inputs[t], h)
loss = h.pow(2).sum()
loss.backward()
print(steps, cell.weight_hh.grad.norm().item() > 0)
