"""Calling backward() on a tensor that never required grad fails: it has no graph to walk."""
import torch

x = torch.tensor([1.0, 2.0], requires_grad=True)
y = torch.tensor([3.0, 4.0], requires_grad=False)
y1 = 2.0 * x + 2.0 * y

# y was created without requires_grad, so there is nothing to differentiate:
# RuntimeError: element 0 of tensors does not require grad and does not have a grad_fn
y.backward(torch.tensor([1.0, 1.0]))
