"""Weight normalisation implemented by writing g * v / ||v|| into the layer's weight through
.data: the conv/linear then uses a plain copy, so g and v get no gradient and never train."""
import torch
from torch import nn

torch.manual_seed(4)


class WeightNormHead(nn.Module):
    def __init__(self, fan_in, classes):
        super().__init__()
        self.fc = nn.Linear(fan_in, classes, bias=False)
        self.v = nn.Parameter(torch.randn(classes, fan_in))
        self.g = nn.Parameter(torch.ones(classes, 1))

    def forward(self, feats):
        self.fc.weight.data = self.g * self.v / self.v.norm(dim=1, keepdim=True)  # CULPRIT
        return self.fc(feats)


backbone = nn.Sequential(nn.Linear(10, 16), nn.ReLU())
head = WeightNormHead(16, 3)
params = list(backbone.parameters()) + [head.v, head.g]
opt = torch.optim.SGD(params, lr=0.1)
x, labels = torch.randn(24, 10), torch.randint(0, 3, (24,))
for step in range(3):
    loss = nn.functional.cross_entropy(head(backbone(x)), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("v.grad None:", head.v.grad is None, "g.grad None:", head.g.grad is None)
