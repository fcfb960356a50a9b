"""Fine-tuning: the classification head is replaced for the new number of classes AFTER the
optimizer was built, so the optimizer keeps updating the old head's (now unused) tensors."""
import torch
from torch import nn

torch.manual_seed(14)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        return self.fc(self.backbone(x))


net = Net()
optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
net.fc = nn.Linear(32, 4)  # CULPRIT
x, y = torch.randn(16, 20), torch.randint(0, 4, (16,))
for epoch in range(3):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    optimizer.step()
print("loss", loss.item())
