"""Only floating point (and complex) tensors can require gradients."""
import torch

a = torch.tensor([1, 2])
print(a.dtype, a.requires_grad)

# RuntimeError: Only Tensors of floating point and complex dtype can require gradients
b = torch.tensor([3, 4], requires_grad=True)
c = a + b
