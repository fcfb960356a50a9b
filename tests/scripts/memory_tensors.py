"""Makes tensors, a model, an optimizer, a graph with saved tensors, a warning, and files weak
references to all of them so a test can check none outlive the traced run."""
import weakref

import torch
import _registry

model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
opt = torch.optim.Adam(model.parameters())
x = torch.randn(32, 8)
for step in range(3):
    hidden = model[1](model[0](x))
    loss = model[2](hidden).pow(2).mean()
    loss.backward()
    opt.step()
    opt.zero_grad()
frozen = x.detach()
with torch.no_grad():
    cut = model(x)
nonleaf = (model[0].weight * 2).sum()
_ = nonleaf.grad  # a warning: the trampoline that forwards it must not keep this module alive
for t in [x, hidden, loss, frozen, cut, nonleaf, *model.parameters()]:
    _registry.refs.append(weakref.ref(t))
_registry.refs.append(weakref.ref(model))
_registry.refs.append(weakref.ref(opt))
