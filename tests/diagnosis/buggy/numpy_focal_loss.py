"""A focal loss written in NumPy: the predictions go through .numpy() and come back with
torch.from_numpy, so backward() has no graph to walk and raises."""
import numpy as np
import torch
from torch import nn

torch.manual_seed(3)
clf = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(clf.parameters(), lr=0.1)
x = torch.randn(64, 10)
y = (torch.rand(64, 1) > 0.7).float()


def focal_loss(logits, target, gamma=2.0):
    p = torch.sigmoid(logits).detach().numpy()  # CULPRIT
    t = target.numpy()
    pt = np.where(t == 1, p, 1 - p)
    loss = -((1 - pt) ** gamma) * np.log(np.clip(pt, 1e-7, 1.0))
    return torch.from_numpy(loss).mean()


for epoch in range(3):
    loss = focal_loss(clf(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(epoch, loss.item())
