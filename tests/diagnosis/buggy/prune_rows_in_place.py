"""Magnitude pruning that zeroes a row of a weight through a view, with gradient tracking on:
PyTorch refuses an in-place op on a view of a leaf that requires grad."""
import torch
from torch import nn

torch.manual_seed(12)
layer = nn.Linear(8, 6)
opt = torch.optim.SGD(layer.parameters(), lr=0.05)
x, y = torch.randn(32, 8), torch.randn(32, 6)

for step in range(4):
    loss = nn.functional.mse_loss(layer(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step == 1:
        weakest = layer.weight.norm(dim=1).argmin()
        layer.weight[weakest].zero_()  # CULPRIT
