"""A custom autograd.Function (a straight-through clamp) used inside a small model (correct)."""
import torch
from torch import nn


class StraightThroughClamp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x.clamp(-1.0, 1.0)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * (x.abs() < 2.0).to(grad_out.dtype)


torch.manual_seed(0)
layer1, layer2 = nn.Linear(6, 12), nn.Linear(12, 1)
optimizer = torch.optim.SGD([*layer1.parameters(), *layer2.parameters()], lr=0.1)
x, y = torch.randn(8, 6), torch.randn(8, 1)
for step in range(2):
    h = StraightThroughClamp.apply(layer1(x))
    loss = nn.functional.mse_loss(layer2(h), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("loss", loss.item())
