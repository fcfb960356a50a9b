"""PyTorch warnings from two different lines each: a C++ one (.grad of a non-leaf) and a Python one
with stacklevel=2 (F.mse_loss with mismatched sizes). Plain python shows all four."""
import torch
import torch.nn.functional as F

x = torch.ones(3, requires_grad=True)
y = x * 2
a = y.grad
b = y.grad
pred = torch.ones(3, 1)
target = torch.ones(3)
l1 = F.mse_loss(pred, target)
l2 = F.mse_loss(pred, target)
