"""A backbone run under no_grad on one line feeds a trainable head: every layer's result there is
cut (made under no_grad from parameters that require grad), only `feats` has a name, and the
head's loss reads them all: these are cuts of the graph backward walks."""
import torch
from torch import nn

import _facts

torch.manual_seed(0)
backbone = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 6), nn.LayerNorm(6))
head = nn.Linear(6, 3)
opt = torch.optim.SGD(head.parameters(), lr=0.1)
x = torch.randn(5, 4)
with torch.no_grad():
    feats = backbone(x)
loss = head(feats).pow(2).mean()
opt.zero_grad()
loss.backward()
opt.step()
_facts.dump(feats=feats, loss=loss, w0=backbone[0].weight, head_w=head.weight)
