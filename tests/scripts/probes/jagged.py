"""Probe: a jagged nested tensor has a symbolic size (`j1`) in its shape; the run, its exit code and
the capture are python's and gradscope's as for any other tensor."""

import torch

nested = torch.nested.nested_tensor([torch.randn(2, 3), torch.randn(5, 3)], layout=torch.jagged,
                                    requires_grad=True)
(nested * 2).values().sum().backward()
print("grad", nested.grad is not None, nested.grad.values().shape)
