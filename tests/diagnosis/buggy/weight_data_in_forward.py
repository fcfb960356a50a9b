"""A hand-written linear layer that reads its weight through .data in forward: the weight never
receives a gradient, only the bias does."""
import math

import torch
from torch import nn

torch.manual_seed(13)


class MyLinear(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / math.sqrt(n_in))
        self.bias = nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        w = self.weight.data  # CULPRIT
        return x @ w.t() + self.bias


model = nn.Sequential(MyLinear(5, 8), nn.Tanh(), MyLinear(8, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
data, target = torch.randn(16, 5), torch.randn(16, 1)
for i in range(4):
    opt.zero_grad()
    loss = ((model(data) - target) ** 2).mean()
    loss.backward()
    opt.step()
print(loss.item())
