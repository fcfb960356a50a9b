"""Gradient accumulation over micro-batches that sums the losses as Python floats with .item();
the total rebuilt as a tensor has no grad_fn and backward() raises."""
import torch
from torch import nn

torch.manual_seed(4)
net = nn.Sequential(nn.Linear(8, 32), nn.GELU(), nn.Linear(32, 1))
opt = torch.optim.AdamW(net.parameters(), lr=3e-4)
data = torch.randn(64, 8)
target = data.sum(dim=1, keepdim=True)

for step in range(2):
    total = 0.0
    for xb, yb in zip(data.chunk(4), target.chunk(4)):
        micro = nn.functional.mse_loss(net(xb), yb)
        total += micro.item()  # CULPRIT
    loss = torch.tensor(total / 4)
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(step, loss.item())
