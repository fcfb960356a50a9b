"""Multi-task loss with learned uncertainty weights (Kendall et al.): the regulariser log_var is
added as a Python float, so it has no gradient; only exp(-log_var) * loss pushes log_var, which
then grows without bound (silently wrong gradient, not None)."""
import torch
from torch import nn
from dataclasses import dataclass

torch.manual_seed(6)


@dataclass
class Task:
    name: str
    head: nn.Module
    log_var: nn.Parameter


trunk = nn.Sequential(nn.Linear(5, 16), nn.ReLU())
tasks = [Task("a", nn.Linear(16, 1), nn.Parameter(torch.zeros(()))),
         Task("b", nn.Linear(16, 1), nn.Parameter(torch.zeros(())))]
params = list(trunk.parameters()) + [p for t in tasks for p in [*t.head.parameters(), t.log_var]]
opt = torch.optim.Adam(params, lr=0.1)
x = torch.randn(32, 5)
targets = {"a": x[:, :1] * 2, "b": x[:, 1:2] - 1}


def weighted_loss(task, feats):
    mse = nn.functional.mse_loss(task.head(feats), targets[task.name])
    return torch.exp(-task.log_var) * mse + float(task.log_var)  # CULPRIT


for step in range(20):
    feats = trunk(x)
    loss = sum(weighted_loss(t, feats) for t in tasks)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("log_vars:", [round(t.log_var.item(), 3) for t in tasks])
