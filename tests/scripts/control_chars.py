"""Names a script can give that would drive a terminal: a module name, a Function class name and an
exception message holding escape sequences (retitle, clear screen) and a bidi override."""
import torch

Evil = type("Evil\x1b]0;pwned\x07", (torch.autograd.Function,), {
    "forward": staticmethod(lambda ctx, x: x * 2),
    "backward": staticmethod(lambda ctx, g: g * 2),
})
net = torch.nn.Sequential()
net.add_module("layer\x1b[2J\u202e", torch.nn.Linear(2, 2))
x = torch.ones(1, 2, requires_grad=True)
y = Evil.apply(net(x)).sum()
y.backward()
raise type("Bad\x1b[2J", (RuntimeError,), {})("boom \x1b[2J done")
