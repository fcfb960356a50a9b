"""Self-distillation with a hand-written soft-target cross-entropy. The target distribution comes
from a second forward pass of the same network and is not detached, so the loss also pushes the
'teacher' pass towards the student."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(8)
net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 5))
opt = torch.optim.SGD(net.parameters(), lr=0.05)
T = 2.0


def augment(x):
    return x + 0.1 * torch.randn_like(x)


x = torch.randn(24, 10)
y = torch.randint(0, 5, (24,))
for step in range(3):
    soft = F.softmax(net(augment(x)) / T, dim=-1)  # CULPRIT
    student = F.log_softmax(net(augment(x)) / T, dim=-1)
    distill = -(soft * student).sum(dim=-1).mean()
    loss = F.cross_entropy(net(x), y) + 0.5 * distill
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
