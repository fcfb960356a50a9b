"""Mean-teacher semi-supervised training: the EMA teacher's predictions are computed under no_grad
and used as soft targets for the student."""
import copy

import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(26)
student = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
teacher = copy.deepcopy(student)
for p in teacher.parameters():
    p.requires_grad_(False)
opt = torch.optim.Adam(student.parameters(), lr=1e-3)

labelled, labels = torch.randn(8, 8), torch.randint(0, 4, (8,))
unlabelled = torch.randn(24, 8)
for step in range(3):
    with torch.no_grad():
        target = F.softmax(teacher(unlabelled + 0.05 * torch.randn_like(unlabelled)), dim=-1)
    log_q = F.log_softmax(student(unlabelled + 0.05 * torch.randn_like(unlabelled)), dim=-1)
    consistency = -(target * log_q).sum(-1).mean()
    loss = F.cross_entropy(student(labelled), labels) + consistency
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        for t, s in zip(teacher.parameters(), student.parameters()):
            t.lerp_(s, 0.01)
print(loss.item())
