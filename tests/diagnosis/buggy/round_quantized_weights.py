"""Quantisation-aware training that rounds the weights to a 1/8 grid with torch.round in the
forward pass and no straight-through estimator: round's derivative is zero, so the latent float
weights get an all-zero gradient and never move."""
import torch
from torch import nn

torch.manual_seed(7)


class QuantLinear(nn.Linear):
    def forward(self, x):
        w_q = torch.round(self.weight * 8) / 8  # CULPRIT
        return nn.functional.linear(x, w_q, self.bias)


model = nn.Sequential(QuantLinear(6, 16), nn.ReLU(), QuantLinear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x, y = torch.randn(64, 6), torch.randn(64, 1)
for step in range(12):
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("weight grad all zero:", bool((model[0].weight.grad == 0).all()), "bias grad norm:", round(model[0].bias.grad.norm().item(), 4))
