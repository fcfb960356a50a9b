"""backward called inside a function, a class method, and a loop of N steps (N = argv[2])."""
import sys

import torch
import _facts

w = torch.ones(3, requires_grad=True)


def step_fn():
    loss = (w * 2).sum()
    loss.backward()


class Trainer:
    def step(self):
        loss = (w * 3).sum()
        loss.backward()


step_fn()
Trainer().step()
n = int(sys.argv[2])
for i in range(n):
    loss = (w * w).sum()
    loss.backward()
_facts.dump({"n": n}, w=w, loss=loss)
