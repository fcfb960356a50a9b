"""Inspecting the gradient of a hidden activation, but retain_grad() comes after backward."""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 12), nn.ReLU(), nn.Linear(12, 1))
x = torch.randn(4, 6)
hidden = model[1](model[0](x))
loss = model[2](hidden).pow(2).mean()
loss.backward()
hidden.retain_grad()
print("hidden.grad:", hidden.grad)
