"""One parameter group has lr=0: its parameters get gradients but never change."""
import torch
from torch import nn

torch.manual_seed(0)
body = nn.Linear(8, 8)
head = nn.Linear(8, 1)
opt = torch.optim.SGD([{"params": body.parameters(), "lr": 0.0}, {"params": head.parameters()}], lr=0.05)
x = torch.randn(16, 8)
y = torch.randn(16, 1)
for step in range(5):
    loss = nn.functional.mse_loss(head(torch.relu(body(x))), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
