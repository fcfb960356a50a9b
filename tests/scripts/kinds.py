"""One tensor of every kind in the label contract, made the way training code makes them."""
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

torch.manual_seed(0)
net = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
net[0].bias.requires_grad_(False)
opt = torch.optim.SGD(net.parameters(), lr=0.1)

leaf = torch.randn(5, 4, requires_grad=True)
data = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
scaled = data * 2 + 1
hidden = net(leaf)
picked = hidden.argmax(dim=1)
positive = hidden > 0
detached = hidden.detach()
via_data = hidden.data

with torch.no_grad():
    frozen_out = hidden * 3
    chained = frozen_out + 1


@torch.no_grad()
def evaluate(x):
    return net(x)


evaluated = evaluate(leaf)
with torch.inference_mode():
    infer = net(data)

bias_only = net[0].bias * 2
grads = torch.autograd.grad(hidden.sum(), leaf, retain_graph=True)[0]
ckpt = checkpoint(lambda t: t * 2, data, use_reentrant=True)

loss = hidden.pow(2).mean() + scaled.sum() * 0
opt.zero_grad()
loss.backward()
opt.step()
