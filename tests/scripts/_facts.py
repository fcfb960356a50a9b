"""What PyTorch itself says about a script's tensors, written to the JSON file named by argv[1].

Imported by the test scripts; the tests compare these facts with gradscope's capture.
"""
import json
import sys


def describe(t):
    grad = t.grad if (t.is_leaf or t.retains_grad) else None
    return {
        "requires_grad": t.requires_grad,
        "is_leaf": t.is_leaf,
        "grad_fn": type(t.grad_fn).__name__ if t.grad_fn is not None else None,
        "grad_is_none": grad is None,
        "grad": grad.detach().to_dense().flatten().tolist() if grad is not None and grad.numel() <= 16
        and grad.device.type != "meta" and not grad.is_complex() else None,
        "dtype": str(t.dtype).replace("torch.", ""),
        "device": str(t.device),
    }


def dump(extra=None, **tensors):
    facts = {"tensors": {name: describe(t) for name, t in tensors.items()}}
    facts.update(extra or {})
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as fh:
            json.dump(facts, fh)
    else:
        print(json.dumps(facts))
