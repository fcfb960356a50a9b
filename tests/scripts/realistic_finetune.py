"""Fine-tuning: a frozen backbone (requires_grad_(False)) under a trainable head; eval under no_grad."""
import torch
from torch import nn

torch.manual_seed(0)
backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten())
head = nn.Linear(8, 4)
for p in backbone.parameters():
    p.requires_grad_(False)
model = nn.Sequential(backbone, head)
optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9)
images = torch.randn(6, 3, 8, 8)
labels = torch.randint(0, 4, (6,))
features = backbone(images)
logits = head(features)
loss = nn.functional.cross_entropy(logits, labels)
optimizer.zero_grad()
loss.backward()
optimizer.step()
model.eval()
with torch.no_grad():
    predictions = model(images).argmax(dim=1)
accuracy = (predictions == labels).float().mean()
