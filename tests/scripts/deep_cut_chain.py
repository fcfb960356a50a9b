"""A cut whose making is deeper than gradscope keeps: 300 ops under no_grad from a trainable leaf."""
import torch

import _facts

w = torch.ones(3, requires_grad=True)
with torch.no_grad():
    h = w * 1.0
    for i in range(300):
        h = h * 1.001
loss = (w * h).sum()
loss.backward()
_facts.dump(w=w, h=h)
