"""Knowledge distillation where the teacher's output is used as a target without detaching it.

The teacher runs with grad enabled, so the target carries gradient back into the teacher.
"""
import torch
from torch import nn
import torch.nn.functional as F

torch.manual_seed(0)
teacher = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 4))
student = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 4))
optimizer = torch.optim.Adam(student.parameters(), lr=1e-3)

x = torch.randn(32, 10)
soft_targets = F.softmax(teacher(x) / 2.0, dim=1)
loss = F.kl_div(F.log_softmax(student(x) / 2.0, dim=1), soft_targets, reduction="batchmean")
optimizer.zero_grad()
loss.backward()
optimizer.step()
