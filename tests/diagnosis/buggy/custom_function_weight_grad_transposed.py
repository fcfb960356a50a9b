"""A hand-written linear layer as an autograd Function whose backward multiplies the weight
gradient in the wrong order: backward() raises 'returned an invalid gradient at index 1'."""
import torch
from torch import nn


class MyLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return x @ weight.t() + bias

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        return grad_out @ weight, x.t() @ grad_out, grad_out.sum(0)  # CULPRIT


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(4, 8) * 0.1)
        self.bias = nn.Parameter(torch.zeros(4))

    def forward(self, x):
        return MyLinear.apply(x, self.weight, self.bias)


torch.manual_seed(15)
net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.1)
x, y = torch.randn(16, 8), torch.randn(16, 4)
for step in range(3):
    loss = ((net(x) - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
