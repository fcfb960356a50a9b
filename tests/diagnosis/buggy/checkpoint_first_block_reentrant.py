"""Activation checkpointing applied to every block of a ModuleList, including the first one,
with the reentrant implementation: the first block's input is raw data that does not require
grad, so the reentrant checkpoint records no graph for it; its output then requires no grad
either, and no block of the tower ever trains (only the head does)."""
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

torch.manual_seed(19)


class Tower(nn.Module):
    def __init__(self, dim=12, depth=3):
        super().__init__()
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(dim, dim), nn.GELU()) for _ in range(depth))
        self.head = nn.Linear(dim, 1)

    def forward(self, x):
        for block in self.blocks:
            x = checkpoint(block, x, use_reentrant=True)  # CULPRIT
        return self.head(x)


model = Tower()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(8, 12), torch.randn(8, 1)
for step in range(2):
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("grad is None per block:", [b[0].weight.grad is None for b in model.blocks])
