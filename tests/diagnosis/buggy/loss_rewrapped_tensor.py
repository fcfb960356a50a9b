"""A custom weighted loss 'fixed' after 'element 0 does not require grad' by wrapping the value in a
new tensor with requires_grad=True: backward runs, the model never learns."""
import torch
from torch import nn

torch.manual_seed(3)
model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
x = torch.randn(40, 10)
y = torch.randn(40, 1)
weights = torch.rand(40, 1)


def weighted_mse(pred, target, w):
    err = (w * (pred - target) ** 2).sum() / w.sum()
    return torch.tensor(err.item(), requires_grad=True)  # CULPRIT


for epoch in range(5):
    pred = model(x)
    loss = weighted_mse(pred, y, weights)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    print(epoch, loss.item())
