"""A custom autograd Function (a scaled clamp) whose backward returns one gradient for its two
inputs: backward() raises 'returned an incorrect number of gradients'."""
import torch
from torch import nn


class ScaledClamp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.save_for_backward(x, scale)
        return (x * scale).clamp(-1.0, 1.0)

    @staticmethod
    def backward(ctx, grad_out):
        x, scale = ctx.saved_tensors
        inside = ((x * scale).abs() < 1.0).to(grad_out.dtype)
        return grad_out * inside * scale  # CULPRIT


torch.manual_seed(14)
lin = nn.Linear(6, 6)
scale = nn.Parameter(torch.ones(6))
opt = torch.optim.SGD([*lin.parameters(), scale], lr=0.1)
x, y = torch.randn(10, 6), torch.rand(10, 6) * 2 - 1
for step in range(3):
    out = ScaledClamp.apply(lin(x), scale)
    loss = ((out - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
