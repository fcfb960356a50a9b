"""Multi-task training: the per-task losses are gathered with torch.tensor(...), which copies
their values out of the graph; only the weight-decay term is backpropagated."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(4)


class MultiHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(6, 24), nn.ReLU())
        self.cls = nn.Linear(24, 4)
        self.reg = nn.Linear(24, 1)

    def forward(self, x):
        h = self.trunk(x)
        return self.cls(h), self.reg(h)


net = MultiHead()
opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=0.0)
x = torch.randn(32, 6)
labels, targets = torch.randint(0, 4, (32,)), torch.randn(32, 1)
for step in range(3):
    logits, value = net(x)
    task_losses = torch.tensor([F.cross_entropy(logits, labels), F.mse_loss(value, targets)])  # CULPRIT
    l2 = sum(p.pow(2).sum() for p in net.parameters())
    loss = task_losses.mean() + 1e-4 * l2
    opt.zero_grad()
    loss.backward()
    opt.step()
print("loss", float(loss))
