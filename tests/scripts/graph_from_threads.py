"""A graph whose two branches were built in two threads: torch counts sequence numbers per thread, so
the branches' nodes share numbers (the script dumps both), and one backward runs through both."""
import threading

import torch

import _facts

x = torch.ones(3, requires_grad=True)
y = torch.ones(3, requires_grad=True)
parts = {}


def work(name, t, k):
    parts[name] = (t * k).sin()


threads = [threading.Thread(target=work, args=("a", x, 2.0)), threading.Thread(target=work, args=("b", y, 3.0))]
for th in threads:
    th.start()
for th in threads:
    th.join()
a, b = parts["a"], parts["b"]
loss = a.sum() + b.sum()
loss.backward()
_facts.dump({"sequence_nrs": [a.grad_fn._sequence_nr(), b.grad_fn._sequence_nr()]}, x=x, y=y, a=a, b=b, loss=loss)
