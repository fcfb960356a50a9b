"""Multi-task training that updates one task head per step, round-robin: each head gets
gradient every third step, none at every step. Nothing is wrong."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(200)
TASKS = ["sentiment", "topic", "spam"]


class MultiHead(nn.Module):
    def __init__(self, d=24, n_out=2):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d, 48), nn.GELU(), nn.Linear(48, d))
        self.heads = nn.ModuleDict({t: nn.Linear(d, n_out) for t in TASKS})

    def forward(self, x, task):
        return self.heads[task](self.encoder(x))


model = MultiHead()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
for step in range(30):
    task = TASKS[step % len(TASKS)]  # round-robin over tasks: one head per step
    x = torch.randn(16, 24)
    y = (x[:, TASKS.index(task)] > 0).long()
    loss = F.cross_entropy(model(x, task), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 6 == 0:
        print(f"step {step:02d} task {task:9s} loss {loss.item():.4f}")
