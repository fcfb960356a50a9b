"""A layer that moves its learnable offset to the input's dtype/device with x.new_tensor(...):
new_tensor copies the values into a fresh tensor with no history, so the offset never trains."""
import torch
from torch import nn

torch.manual_seed(9)


class Standardize(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(dim))
        self.log_scale = nn.Parameter(torch.zeros(dim))

    def forward(self, x):
        shift = x.new_tensor(self.shift)  # CULPRIT
        return (x - shift) * torch.exp(-self.log_scale)


model = nn.Sequential(Standardize(4), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x = torch.randn(20, 4, dtype=torch.float64) * 3 + 1
model.double()
y = torch.randint(0, 2, (20,))
for step in range(3):
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("shift.grad is None:", model[0].shift.grad is None)
