"""L-BFGS with a closure: zero_grad() runs inside the closure, before each backward the optimizer
asks for, so no step applies cleared gradients (the optimizer calls the closure itself)."""
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
opt = torch.optim.LBFGS(model.parameters(), lr=0.5, max_iter=5)
x = torch.randn(32, 3)
y = x.sum(dim=1, keepdim=True).sin()


def closure():
    opt.zero_grad()
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    return loss


for _ in range(3):
    loss = opt.step(closure)
print(round(loss.item(), 4))
