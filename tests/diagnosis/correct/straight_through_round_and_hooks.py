"""Quantisation-aware training with a straight-through estimator (round in the forward value only),
a forward hook that keeps detached features and returns None, a tensor hook that clips a
gradient by returning a new tensor, and int() of a tensor used only for logging."""
import torch
from torch import nn

torch.manual_seed(35)
features = {}


class QuantLinear(nn.Linear):
    def forward(self, x):
        w = self.weight
        w_q = w + (torch.round(w * 8) / 8 - w).detach()
        return nn.functional.linear(x, w_q, self.bias)


def keep(name):
    def hook(module, inputs, output):
        features[name] = output.detach()
    return hook


model = nn.Sequential(QuantLinear(6, 16), nn.ReLU(), QuantLinear(16, 1))
model[0].register_forward_hook(keep("first"))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x, y = torch.randn(64, 6), torch.randn(64, 1)
for step in range(12):
    h = model[1](model[0](x))
    h.register_hook(lambda g: g.clamp(-0.1, 0.1))
    loss = nn.functional.mse_loss(model[2](h), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    active = int((features["first"] > 0).sum())
print("weight grad nonzero:", bool(model[0].weight.grad.abs().sum() > 0), "active", active)
