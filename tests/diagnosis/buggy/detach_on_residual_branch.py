"""A residual MLP where the detach() meant for a logged activation ended up on the residual branch."""
import torch
from torch import nn

torch.manual_seed(12)


class ResBlock(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 2 * d), nn.ReLU(), nn.Linear(2 * d, d))

    def forward(self, x):
        update = self.ff(self.norm(x)).detach()  # CULPRIT
        return x + update


model = nn.Sequential(nn.Linear(6, 10), ResBlock(10), ResBlock(10), nn.Linear(10, 1))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(20, 6), torch.randn(20, 1)
for step in range(3):
    loss = nn.functional.smooth_l1_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
