"""Caching backbone features under inference_mode, then training a head on them.

Tensors made under `torch.inference_mode()` cannot be saved for backward: the head's linear
layer needs its input to compute the weight gradient, so the forward raises.
"""
import torch
from torch import nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(20, 64), nn.ReLU())
head = nn.Linear(64, 5)
optimizer = torch.optim.Adam(head.parameters(), lr=1e-3)
images, labels = torch.randn(16, 20), torch.randint(0, 5, (16,))

with torch.inference_mode():
    features = backbone(images)

logits = head(features)
loss = nn.functional.cross_entropy(logits, labels)
optimizer.zero_grad()
loss.backward()
optimizer.step()
