"""A model that creates its scale parameter and casts it to float64 in the same expression: the
attribute holds the non-leaf result of .to(), not a registered parameter, so model.parameters()
misses it and the optimizer never updates the scale (the hidden float32 leaf just accumulates
gradient)."""
import torch
from torch import nn

torch.manual_seed(14)


class ScaledRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 1).double()
        self.scale = nn.Parameter(torch.ones(1)).to(torch.float64)  # CULPRIT

    def forward(self, x):
        return self.lin(x) * self.scale


model = ScaledRegressor()
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x = torch.randn(16, 4, dtype=torch.float64)
y = torch.randn(16, 1, dtype=torch.float64)
for step in range(3):
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(step, loss.item())
print("registered:", [n for n, _ in model.named_parameters()], "scale:", model.scale.item(),
      "is_leaf:", model.scale.is_leaf)
