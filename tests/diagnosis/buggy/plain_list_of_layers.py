"""An MLP whose hidden layers are kept in a plain Python list instead of nn.ModuleList: they are
not registered, model.parameters() misses them, and the optimizer never updates them although
they receive gradients every step."""
import torch
from torch import nn

torch.manual_seed(1)


class DeepMLP(nn.Module):
    def __init__(self, dim=8, depth=3):
        super().__init__()
        self.inp = nn.Linear(4, dim)
        self.hidden = [nn.Linear(dim, dim) for _ in range(depth)]  # CULPRIT
        self.out = nn.Linear(dim, 1)

    def forward(self, x):
        h = torch.relu(self.inp(x))
        for layer in self.hidden:
            h = torch.relu(layer(h))
        return self.out(h)


model = DeepMLP()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(32, 4), torch.randn(32, 1)
before = model.hidden[0].weight.detach().clone()
for step in range(5):
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("registered params:", len(list(model.parameters())))
print("hidden[0] got grad:", model.hidden[0].weight.grad is not None,
      "changed:", not torch.equal(before, model.hidden[0].weight))
