"""A hand-written weight-normalised linear layer that re-wraps the normalised weight in a fresh
nn.Parameter on every forward: the new parameter is a leaf cut from v and g, so v and g never
get a gradient, and the optimizer (built on the old parameters) never sees the new one."""
import torch
from torch import nn

torch.manual_seed(3)


class WNLinear(nn.Module):
    def __init__(self, fan_in, fan_out):
        super().__init__()
        self.v = nn.Parameter(torch.randn(fan_out, fan_in) * 0.1)
        self.g = nn.Parameter(torch.ones(fan_out, 1))
        self.bias = nn.Parameter(torch.zeros(fan_out))
        self.weight = nn.Parameter(self.v.detach().clone())

    def forward(self, x):
        self.weight = nn.Parameter(self.g * self.v / self.v.norm(dim=1, keepdim=True))  # CULPRIT
        return nn.functional.linear(x, self.weight, self.bias)


net = nn.Sequential(WNLinear(6, 12), nn.ReLU(), WNLinear(12, 1))
opt = torch.optim.Adam(net.parameters(), lr=1e-2)
x, y = torch.randn(40, 6), torch.randn(40, 1)
for step in range(4):
    loss = nn.functional.mse_loss(net(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("v.grad None:", net[0].v.grad is None, "g.grad None:", net[0].g.grad is None)
