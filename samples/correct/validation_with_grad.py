"""Training with a validation pass that forgets torch.no_grad(): wasteful, but correct.

The validation graphs are never backpropagated, and the optimizer later updates (in place) the
weights they saved; nothing about that is an error.
"""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
criterion = nn.CrossEntropyLoss()
train_x, train_y = torch.randn(32, 6), torch.randint(0, 2, (32,))
val_x, val_y = torch.randn(16, 6), torch.randint(0, 2, (16,))

for epoch in range(3):
    loss = criterion(model(train_x), train_y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    val_loss = criterion(model(val_x), val_y)
    print(f"epoch {epoch}: train {loss.item():.3f} val {val_loss.item():.3f}")
