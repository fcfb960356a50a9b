"""Swallows the SystemExit of its first backward call, then calls backward again."""
import torch

w = torch.ones(2, requires_grad=True)
try:
    try:
        (w * 2).sum().backward()
    except SystemExit:
        print("swallowed", flush=True)
    (w * 3).sum().backward()
    print("second call returned", flush=True)
finally:
    print("grad", w.grad.tolist(), flush=True)
