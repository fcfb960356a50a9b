"""Three kinds of backward call from three places: Tensor.backward, torch.autograd.backward inside a
helper function, torch.autograd.grad; a line is printed after each returns."""
import torch

w = torch.ones(3, requires_grad=True)


def helper_backward(t):
    torch.autograd.backward(t)


(w * 2).sum().backward()
print("after call 1", flush=True)
helper_backward((w * 3).sum())
print("after call 2", flush=True)
(g,) = torch.autograd.grad((w * 4).sum(), [w])
print("after call 3", flush=True)
(w * 5).sum().backward()
print("after call 4", flush=True)
