"""Buffers are constants: nn.Buffer(t) and register_buffer; torch detaches the first one itself.
The user's own detach() of a constant is still the user's detach. Prints PyTorch's facts as JSON."""
import json

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.scale = nn.Buffer(torch.ones(2))
        self.register_buffer("shift", torch.zeros(2))

    def forward(self, x):
        return self.lin(x) * self.scale + self.shift


net = Net()
x = torch.randn(4, 3)
own = x.detach()
loss = (net(own) ** 2).sum()
loss.backward()
print(json.dumps({name: {"requires_grad": t.requires_grad, "is_leaf": t.is_leaf}
                  for name, t in (("net.scale", net.scale), ("net.shift", net.shift), ("own", own))}))
