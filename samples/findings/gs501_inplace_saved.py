"""A residual MLP block that normalises its activation in place.

`torch.sigmoid` saves its output for backward; `gate.mul_()` then modifies it, and backward raises
"one of the variables needed for gradient computation has been modified by an inplace operation".
"""
import torch
from torch import nn


class GatedBlock(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        gate = torch.sigmoid(self.fc(x))
        out = x * gate
        gate.mul_(0.5)
        return out + gate


torch.manual_seed(0)
block = GatedBlock(8)
optimizer = torch.optim.SGD(block.parameters(), lr=0.1)
x = torch.randn(4, 8)
loss = block(x).pow(2).mean()
optimizer.zero_grad()
loss.backward()
optimizer.step()
