"""Every kind of tensor gradscope draws, in one small graph (the README's legend picture)."""
import torch
from torch import nn

torch.manual_seed(0)
layer = nn.Linear(3, 2)  # parameters
frozen = nn.Linear(2, 2)
frozen.requires_grad_(False)  # frozen parameters
x = torch.randn(4, 3)  # constant input
w = torch.ones(2, requires_grad=True)  # leaf
h = layer(x)  # non-leaf
anchor = h.detach()  # detached
with torch.no_grad():
    scale = h.mean() * 2  # made under no_grad
with torch.inference_mode():
    offset = torch.ones(2)  # inference tensor
index = h.argmax(dim=1)  # not differentiable
out = frozen(h) * w + anchor * scale + offset + index.float().unsqueeze(1)
loss = out.sum()
loss.backward()
print(w.grad, layer.weight.grad is not None, frozen.weight.grad)
