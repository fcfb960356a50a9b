"""An EMA copy of the model is made, and the optimizer is built from the copy's parameters by
mistake: the trained model's gradients are computed but never applied."""
import copy

import torch
from torch import nn

torch.manual_seed(17)
model = nn.Sequential(nn.Linear(3, 12), nn.SiLU(), nn.Linear(12, 1))
ema_model = copy.deepcopy(model)
optimizer = torch.optim.Adam(ema_model.parameters(), lr=1e-3)  # CULPRIT
decay = 0.99

x, y = torch.randn(30, 3), torch.randn(30, 1)
for step in range(4):
    loss = nn.functional.mse_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        for pe, p in zip(ema_model.parameters(), model.parameters()):
            pe.mul_(decay).add_(p, alpha=1 - decay)
print(loss.item())
