"""A frozen 12-layer backbone (24 ops deep) under a trainable head: the whole frozen branch, down to
the input, is what the picture must show (issue 10: it used to stop after 16 ops)."""
import torch
from torch import nn
torch.manual_seed(0)
layers = []
for i in range(12):
    layers += [nn.Linear(8, 8), nn.Tanh()]
backbone = nn.Sequential(*layers)
head = nn.Linear(8, 1)
for p in backbone.parameters():
    p.requires_grad_(False)
x = torch.randn(4, 8)
feats = backbone(x)
loss = head(feats).pow(2).mean()
loss.backward()
