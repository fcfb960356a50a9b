"""A binarising layer as a custom autograd Function with a straight-through backward that returns
one gradient per input (None for the threshold), trained with an optimizer."""
import torch
from torch import nn


class BinarizeSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, threshold):
        ctx.save_for_backward(x)
        return (x > threshold).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        (x,) = ctx.saved_tensors
        return grad_out * (x.abs() <= 1).to(grad_out.dtype), None


class BinaryNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Linear(12, 16)
        self.dec = nn.Linear(16, 12)

    def forward(self, x):
        codes = BinarizeSTE.apply(torch.tanh(self.enc(x)), 0.0)
        return self.dec(codes)


torch.manual_seed(23)
net = BinaryNet()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
data = torch.randn(32, 12)
for step in range(4):
    loss = nn.functional.mse_loss(net(data), data)
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(step, loss.item())
