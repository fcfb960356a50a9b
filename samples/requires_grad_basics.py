"""requires_grad basics: only tensors created with requires_grad=True receive a gradient."""
import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
y = torch.tensor([3.0, 4.0], requires_grad=False)
y1 = 2.0 * x + 2.0 * y
print(x, x.requires_grad)
print(y, y.requires_grad)
print(y1, y1.requires_grad)

y1.backward(torch.tensor([1.0, 1.0]))
print(x.grad)
print(y.grad)
