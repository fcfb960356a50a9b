"""Fine-tuning done right: a pretrained-style backbone gets a new classification head, and the
optimizer is built afterwards from the model's current parameters."""
import torch
from torch import nn

torch.manual_seed(3)


class Classifier(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(12, 24), nn.GELU(), nn.Linear(24, 24), nn.GELU())
        self.head = nn.Linear(24, classes)

    def forward(self, x):
        return self.head(self.features(x))


model = Classifier(classes=100)
for p in model.features.parameters():
    p.requires_grad_(False)
model.head = nn.Linear(24, 5)
optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
x, y = torch.randn(32, 12), torch.randint(0, 5, (32,))
for step in range(4):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
print(f"loss {loss.item():.4f}")
