"""Fitting a line with hand-made parameters, one of them scaled right after creation.

`w = w * 0.1` rebinds `w` to a non-leaf product: the gradient goes to the original leaf, and
`w.grad` (the product's) is None, with a PyTorch warning.
"""
import torch

torch.manual_seed(0)
xs = torch.linspace(-1, 1, 50).unsqueeze(1)
ys = 3.0 * xs + 0.5

w = torch.randn(1, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
w = w * 0.1
loss = ((xs @ w + b - ys) ** 2).mean()
loss.backward()
print("w.grad:", w.grad)
print("b.grad:", b.grad)
