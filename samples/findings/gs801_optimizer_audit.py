"""Transfer learning: the backbone is frozen after the optimizer was built, and an extra
`temperature` parameter is created but never given to the optimizer."""
import torch
from torch import nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(12, 32), nn.ReLU())
classifier = nn.Linear(32, 3)
temperature = nn.Parameter(torch.ones(1))
optimizer = torch.optim.SGD([*backbone.parameters(), *classifier.parameters()], lr=0.1)
for p in backbone.parameters():
    p.requires_grad_(False)

x, y = torch.randn(24, 12), torch.randint(0, 3, (24,))
for step in range(2):
    logits = classifier(backbone(x)) / temperature
    loss = nn.functional.cross_entropy(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("temperature.grad:", temperature.grad)
