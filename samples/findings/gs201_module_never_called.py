"""A classifier with a projection layer that forward() forgets to use.

`proj` is built and handed to the optimizer, but never called: its weight and bias stay None
after every backward, and Adam silently skips them.
"""
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(10, 32), nn.ReLU())
        self.proj = nn.Linear(32, 32)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        h = self.encoder(x)
        return self.head(h)


torch.manual_seed(0)
model = Classifier()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x, y = torch.randn(64, 10), torch.randint(0, 4, (64,))
for epoch in range(2):
    loss = nn.functional.cross_entropy(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("proj.weight.grad is None:", model.proj.weight.grad is None)
