"""detach() on each result gives the same gradients as computing them under no_grad()."""
import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
y1 = x ** 2
y2 = y1 * 2
y3 = x ** 5
y2 = y2.detach()
y3 = y3.detach()
y4 = y1 + y2 + y3
print(y1, y1.requires_grad)
print(y2, y2.requires_grad)
print(y3, y3.requires_grad)
print(y4, y4.requires_grad)
y4.backward(torch.ones(y4.shape))
print(x.grad)
