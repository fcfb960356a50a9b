"""First-order MAML: the inner gradients come from autograd.grad without create_graph on purpose
(no second-order terms), the adapted weights still depend on the meta-parameters, and the outer
loss trains them; the inner gradients' norm is kept for logging only."""
import torch
from torch import nn

torch.manual_seed(0)
net = nn.Linear(3, 1)
meta_opt = torch.optim.SGD(net.parameters(), lr=0.1)
inner_lr = 0.01


def adapt(w, b, x, y):
    inner = ((x @ w.t() + b - y) ** 2).mean()
    gw, gb = torch.autograd.grad(inner, (w, b))
    return w - inner_lr * gw, b - inner_lr * gb, torch.stack([gw.norm(), gb.norm()]).norm()


for it in range(4):
    x_s, y_s, x_q, y_q = torch.randn(8, 3), torch.randn(8, 1), torch.randn(8, 3), torch.randn(8, 1)
    fast_w, fast_b, inner_norm = adapt(net.weight, net.bias, x_s, y_s)
    outer = ((x_q @ fast_w.t() + fast_b - y_q) ** 2).mean()
    meta_opt.zero_grad()
    outer.backward()
    meta_opt.step()
print(round(outer.item(), 4), round(inner_norm.item(), 4))
