"""Keypoint selection: the scorer picks the top-k locations and the descriptor loss is computed on
the gathered features. The scorer only influences the loss through integer indices."""
import torch
from torch import nn

torch.manual_seed(5)
scorer = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 1))
describer = nn.Linear(16, 8)
params = list(scorer.parameters()) + list(describer.parameters())
opt = torch.optim.Adam(params, lr=1e-3)

points = torch.randn(4, 50, 16)
anchors = torch.randn(4, 10, 8)
for it in range(3):
    scores = scorer(points).squeeze(-1)
    keep = scores.topk(10, dim=1).indices  # CULPRIT
    desc = describer(points)
    picked = torch.gather(desc, 1, keep.unsqueeze(-1).expand(-1, -1, 8))
    loss = (picked - anchors).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
