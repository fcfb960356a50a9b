"""Two training steps, then an evaluation under no_grad on one line: every layer's result there is
cut (made under no_grad from parameters that require grad), and only `preds` has a name."""
import torch
from torch import nn

import _facts

torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.LayerNorm(3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(5, 4)
for step in range(2):
    loss = model(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
with torch.no_grad():
    preds = model(x).argmax(-1)
_facts.dump(preds=preds, loss=loss)
