"""A gated residual block kept in an nn.ModuleDict: the sigmoid gate's output is saved for
backward, and the residual is added to it in place with +=, so backward() raises."""
import torch
from torch import nn

torch.manual_seed(11)


class GatedBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.parts = nn.ModuleDict({"proj": nn.Linear(dim, dim), "gate": nn.Linear(dim, dim)})

    def forward(self, x):
        g = torch.sigmoid(self.parts["gate"](x))
        out = g * self.parts["proj"](x)
        g += x  # CULPRIT
        return out + g


net = nn.Sequential(GatedBlock(8), GatedBlock(8), nn.Linear(8, 1))
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
x, y = torch.randn(10, 8), torch.randn(10, 1)
loss = nn.functional.mse_loss(net(x), y)
opt.zero_grad()
loss.backward()
opt.step()
print(loss.item())
