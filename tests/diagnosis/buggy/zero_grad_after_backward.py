"""A training step that clears the gradients between backward() and step(): every step applies
an all-zero gradient, so the model never changes although backward reaches every parameter."""
import torch
from torch import nn

torch.manual_seed(10)
model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
x = torch.randn(64, 5)
y = x @ torch.randn(5, 1)


def train_step(xb, yb):
    loss = nn.functional.mse_loss(model(xb), yb)
    loss.backward()
    opt.zero_grad()  # CULPRIT
    opt.step()
    return loss.item()


for epoch in range(6):
    losses = [train_step(xb, yb) for xb, yb in zip(x.split(16), y.split(16))]
    print(epoch, round(sum(losses) / len(losses), 5))
