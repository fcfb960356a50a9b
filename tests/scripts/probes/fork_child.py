"""Probe: a forked child that runs to the end (does not os._exit) neither reports nor writes outputs."""
import os
import sys

import torch

w = torch.ones(2, requires_grad=True)
(w * 3).sum().backward()
pid = os.fork()
if pid == 0:
    print("child", w.grad.tolist(), flush=True)
    sys.exit(0)
os.waitpid(pid, 0)
print("parent", w.grad.tolist(), flush=True)
