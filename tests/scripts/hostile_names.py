"""Names from user code that try to break DOT, SVG and HTML: markup, quotes, braces, newlines."""
import torch
from torch import nn

HOSTILE_MODULE = "<img src=x onerror=alert(1)>"
ODD_MODULE = 'q"uo\'te {brace} back\\slash [bold] new\nline ünï 模块 & amp'


def _forward(ctx, x):
    return x * 2


def _backward(ctx, grad):
    return grad * 2


# a custom Function whose class name (and so its grad_fn's name) is markup
Shout = type("</script><script>alert(1)</script>", (torch.autograd.Function,),
             {"forward": staticmethod(_forward), "backward": staticmethod(_backward)})

model = nn.Sequential()
model.add_module(HOSTILE_MODULE, nn.Linear(3, 3))
model.add_module(ODD_MODULE, nn.Linear(3, 1))
x = torch.randn(2, 3)
y = Shout.apply(model(x))
loss = y.sum()
loss.backward()
print(type(y.grad_fn).__name__)
