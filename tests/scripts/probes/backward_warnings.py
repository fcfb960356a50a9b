"""Probe: a warning raised while backward runs (here, a module's full backward hook firing on outputs
that do not require grad) names the script's backward() line; two such lines give two warnings under
the default filter, as under python."""

import torch

first = torch.nn.Linear(4, 1)
first.register_full_backward_hook(lambda module, grad_in, grad_out: None)
loss = first(torch.ones(2, 4)).sum()
loss.backward()
second = torch.nn.Linear(4, 1)
second.register_full_backward_hook(lambda module, grad_in, grad_out: None)
loss = second(torch.ones(2, 4)).sum()
loss.backward()
print(first.weight.grad.shape, second.weight.grad.shape)
