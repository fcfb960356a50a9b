"""Benchmark 4: saved activations far larger than the weights (peak memory is what matters)."""

import json
import sys

import torch

BATCH = int(sys.argv[1]) if len(sys.argv) > 1 else 32_768

torch.set_num_threads(1)
torch.manual_seed(0)
layers = []
for _ in range(10):
    layers += [torch.nn.Linear(1024, 1024), torch.nn.ReLU()]
model = torch.nn.Sequential(*layers)
x = torch.randn(BATCH, 1024)
out = model(x)
loss = out.mean()


def saved_activation_bytes(root, params):
    """Bytes of the distinct storages the graph saved for backward, weights left out."""
    weights = {p.untyped_storage().data_ptr() for p in params}
    storages, stack, hold = {}, [root.grad_fn], []
    while stack:
        fn = stack.pop()
        hold.append(fn)
        for name in dir(fn):
            if name.startswith("_saved_"):
                value = getattr(fn, name)
                if isinstance(value, torch.Tensor) and value.untyped_storage().data_ptr() not in weights:
                    storages[value.untyped_storage().data_ptr()] = value.untyped_storage().nbytes()
        stack.extend(nfn for nfn, _ in fn.next_functions if nfn is not None)
    return sum(storages.values())


activation_bytes = saved_activation_bytes(loss, list(model.parameters()))
weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
loss.backward()
print("BENCH " + json.dumps({"activation_bytes": activation_bytes, "weight_bytes": weight_bytes}))
