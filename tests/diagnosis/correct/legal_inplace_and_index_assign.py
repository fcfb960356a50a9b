"""In-place ops that are legal: += on a Linear output before relu_ (nobody saved it), ReLU(inplace)
after a Linear, outputs written into a preallocated tensor by index assignment inside an
unrolled RNN, a ParameterList of per-step gains, and non-reentrant checkpoint on raw data."""
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

torch.manual_seed(34)


class Unrolled(nn.Module):
    def __init__(self, dim=8, steps=5):
        super().__init__()
        self.inp = nn.Sequential(nn.Linear(4, dim), nn.ReLU(inplace=True))
        self.cell = nn.Linear(dim, dim)
        self.gains = nn.ParameterList(nn.Parameter(torch.ones(dim)) for _ in range(steps))
        self.head = nn.Linear(dim, 1)

    def forward(self, x):
        h = checkpoint(self.inp, x, use_reentrant=False)
        outs = torch.zeros(x.size(0), len(self.gains), h.size(1))
        for t, gain in enumerate(self.gains):
            z = self.cell(h)
            z += h
            h = z.relu_() * gain
            outs[:, t] = h
        return self.head(outs.mean(dim=1))


model = Unrolled()
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
x, y = torch.randn(10, 4), torch.randn(10, 1)
for step in range(3):
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("all grads:", all(p.grad is not None for p in model.parameters()), round(loss.item(), 4))
