"""Probe: a function of the script rebuilt from its code object with fresh globals, as cloudpickle
ships a function of __main__ by value to a worker process (Ray, dask, joblib/loky)."""

import builtins
import types


def scale(x):
    doubled = x * 2
    return doubled + 1


fresh_builtins = {k: v for k, v in vars(builtins).items() if not k.startswith("__") or k == "__import__"}
rebuilt = types.FunctionType(scale.__code__, {"__builtins__": fresh_builtins, "__name__": "worker"})
print(rebuilt(3), scale(3))
