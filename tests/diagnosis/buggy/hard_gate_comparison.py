"""A learned skip gate turned into a hard 0/1 mask with a comparison; the gate network is never trained."""
import torch
from torch import nn

torch.manual_seed(6)


class GatedBlock(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.gate = nn.Linear(d, 1)
        self.body = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))

    def forward(self, x):
        keep = (torch.sigmoid(self.gate(x)) > 0.5).float()  # CULPRIT
        return x + keep * self.body(x)


model = nn.Sequential(GatedBlock(12), GatedBlock(12), nn.Linear(12, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
inputs, labels = torch.randn(30, 12), torch.randint(0, 2, (30,))
loss_fn = nn.CrossEntropyLoss()
for epoch in range(3):
    opt.zero_grad()
    loss = loss_fn(model(inputs), labels)
    loss.backward()
    opt.step()
print(f"{loss.item():.4f}")
