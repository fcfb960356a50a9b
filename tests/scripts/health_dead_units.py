"""Three ReLU units that never fire (biases of -100): rows 3, 7 and 11 of the first Linear's weight get
exactly zero gradient at every step, the other rows do not. Which rows torch left at zero after every
backward call is written to argv[1]."""
import json
import sys

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4), nn.ReLU(), nn.Linear(4, 1))
with torch.no_grad():
    model[0].bias[[3, 7, 11]] = -100.0
opt = torch.optim.SGD(model.parameters(), lr=0.01)
always_zero = {name: None for name, p in model.named_parameters() if p.dim() == 2}
for step in range(15):
    x, y = torch.randn(32, 8), torch.randn(32, 1)
    loss = nn.functional.mse_loss(model(x), y)
    opt.zero_grad()
    loss.backward()
    for name, p in model.named_parameters():
        if name in always_zero:
            zero = (p.grad == 0).all(dim=1)
            always_zero[name] = zero if always_zero[name] is None else always_zero[name] & zero
    opt.step()
if len(sys.argv) > 1:
    with open(sys.argv[1], "w") as fh:
        json.dump({name: z.nonzero().flatten().tolist() for name, z in always_zero.items()}, fh)
