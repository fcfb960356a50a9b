"""Probe: saved_tensors_hooks whose unpack may run only once (an offloading store) still work."""
import torch

store = {}


def pack(t):
    key = len(store)
    store[key] = t.clone()
    return key


def unpack(key):
    return store.pop(key)  # KeyError when unpacked twice


w = torch.ones(3, requires_grad=True)
with torch.autograd.graph.saved_tensors_hooks(pack, unpack):
    y = (w * w).sin().sum()
y.backward()
print("grad", w.grad.tolist(), "left", len(store))
