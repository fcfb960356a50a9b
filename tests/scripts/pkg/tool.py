"""Run with -m pkg.tool: prints how it was started, imports a relative sibling."""
import os
import sys

from . import helper

print("argv0", sys.argv[0])
print("args", sys.argv[1:])
print("name", __name__)
print("package", __package__)
print("spec", __spec__.name if __spec__ else None)
print("path0", sys.path[0])
print("helper", helper.NAME)
import torch
w = torch.ones(2, requires_grad=True)
(w * 5).sum().backward()
