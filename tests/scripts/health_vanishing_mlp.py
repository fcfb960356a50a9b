"""A deep MLP of sigmoids: the first layers' gradients vanish."""
import torch
from torch import nn

torch.manual_seed(0)
layers = []
for _ in range(16):
    layers += [nn.Linear(32, 32), nn.Sigmoid()]
model = nn.Sequential(*layers, nn.Linear(32, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(64, 32)
y = torch.randn(64, 1)
for step in range(15):
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
