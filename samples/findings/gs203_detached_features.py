"""Fine-tuning an encoder, but its features are detached before the head.

The encoder sits in the optimizer, yet `features.detach()` cuts every path from the loss to it.
"""
import torch
from torch import nn

torch.manual_seed(0)
encoder = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32))
head = nn.Linear(32, 2)
optimizer = torch.optim.Adam(list(encoder.parameters()) + list(head.parameters()), lr=1e-3)

x, y = torch.randn(20, 16), torch.randint(0, 2, (20,))
for step in range(3):
    features = encoder(x).detach()
    loss = nn.functional.cross_entropy(head(features), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("encoder[0].weight.grad is None:", encoder[0].weight.grad is None)
