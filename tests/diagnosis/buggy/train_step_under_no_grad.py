"""A training loop whose forward pass sits inside a no_grad block copied from the evaluation code;
only the hand-written L2 penalty reaches the weights."""
import torch
from torch import nn

torch.manual_seed(10)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
opt = torch.optim.SGD(model.parameters(), lr=0.01)
criterion = nn.MSELoss()
X, Y = torch.randn(64, 8), torch.randn(64, 1)

for epoch in range(2):
    for xb, yb in zip(X.split(16), Y.split(16)):
        with torch.no_grad():  # CULPRIT
            pred = model(xb)
        penalty = sum((p ** 2).sum() for p in model.parameters())
        loss = criterion(pred, yb) + 1e-3 * penalty
        opt.zero_grad()
        loss.backward()
        opt.step()
    print("epoch", epoch, loss.item())
