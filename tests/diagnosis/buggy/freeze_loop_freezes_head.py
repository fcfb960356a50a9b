"""Fine-tuning meant to freeze the backbone, but the loop runs over model.parameters(), freezing
the new head as well: backward() raises 'element 0 of tensors does not require grad'."""
import torch
from torch import nn

torch.manual_seed(7)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        return self.head(self.backbone(x))


model = Classifier()
for p in model.parameters():
    p.requires_grad = False  # CULPRIT
opt = torch.optim.SGD(model.head.parameters(), lr=0.1)
x, y = torch.randn(24, 16), torch.randint(0, 2, (24,))
for step in range(3):
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
