"""Validation turns gradient tracking off with torch.set_grad_enabled(False) and never turns it back
on: the second epoch's backward() raises 'element 0 of tensors does not require grad'."""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 3))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
train_x, train_y = torch.randn(96, 12), torch.randint(0, 3, (96,))
val_x, val_y = torch.randn(32, 12), torch.randint(0, 3, (32,))


def evaluate(net):
    net.eval()
    torch.set_grad_enabled(False)  # CULPRIT
    acc = (net(val_x).argmax(dim=1) == val_y).float().mean()
    net.train()
    return acc.item()


for epoch in range(3):
    for xb, yb in zip(train_x.split(32), train_y.split(32)):
        loss = loss_fn(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"epoch {epoch}: val acc {evaluate(model):.3f}")
