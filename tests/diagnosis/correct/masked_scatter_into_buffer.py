"""Packing per-token outputs into a zero-initialised buffer with a boolean mask (padding left at 0):
gradient flows through the masked assignment."""
import torch
from torch import nn

torch.manual_seed(28)
encoder = nn.Linear(5, 7)
scorer = nn.Linear(7, 1)
opt = torch.optim.SGD([*encoder.parameters(), *scorer.parameters()], lr=0.1)
lengths = torch.tensor([3, 5, 2, 4])
mask = torch.arange(5)[None, :] < lengths[:, None]
tokens = torch.randn(int(mask.sum()), 5)
target = torch.randn(4, 1)
for step in range(3):
    padded = torch.zeros(4, 5, 7)
    padded[mask] = torch.relu(encoder(tokens))
    pooled = padded.sum(dim=1) / lengths[:, None]
    loss = nn.functional.mse_loss(scorer(pooled), target)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
