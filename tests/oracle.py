"""What PyTorch itself reports about a script's tensors: the oracle gradscope is compared with.

    python tests/oracle.py SCRIPT OUT.json [ARGS...]

Runs SCRIPT under plain python (no gradscope), then dumps, for every top-level variable bound to a
tensor and every parameter of every top-level module: requires_grad, is_leaf, grad_fn name, whether
.grad is None and its values, and whether it is an nn.Parameter; and for each top-level optimizer,
the names of the parameters it holds. Exceptions of the script are recorded, not raised.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
import warnings

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts"))
from _facts import describe  # noqa: E402 - the same description the test scripts dump of themselves


def facts(t):
    import torch

    with warnings.catch_warnings():  # reading a non-leaf's .grad warns; describe() never does, but be sure
        warnings.simplefilter("ignore")
        out = describe(t)
    out.update(is_parameter=isinstance(t, torch.nn.Parameter), is_inference=t.is_inference(), shape=list(t.shape))
    return out


def main() -> None:
    script, out = sys.argv[1], sys.argv[2]
    sys.argv = [script, *sys.argv[3:]]
    namespace = {}
    error = None
    try:
        namespace = runpy.run_path(script, run_name="__main__")
    except SystemExit:
        pass
    except BaseException as exc:  # noqa: BLE001
        error = {"type": type(exc).__name__, "message": str(exc)}
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == script or tb.tb_frame.f_code.co_filename.endswith(script):
                error["line"] = tb.tb_lineno
            tb = tb.tb_next
        # run_path discards the namespace on error: re-run to the failing point is not possible,
        # so the variables are taken from the traceback's module frame
        tb = exc.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name == "<module>" and tb.tb_frame.f_code.co_filename.endswith(script):
                namespace = dict(tb.tb_frame.f_globals)
            tb = tb.tb_next
    import torch

    variables, params, names, optimizers = {}, {}, {}, {}
    for name, value in namespace.items():
        if name.startswith("__"):
            continue
        if isinstance(value, torch.Tensor):
            variables[name] = facts(value)
        elif isinstance(value, torch.nn.Module):
            for pname, p in value.named_parameters():
                params[f"{name}.{pname}"] = facts(p)
                names.setdefault(id(p), f"{name}.{pname}")
    for name, value in namespace.items():
        if isinstance(value, torch.optim.Optimizer):
            optimizers[name] = [names.get(id(p)) for group in value.param_groups for p in group["params"]]
    with open(out, "w") as fh:
        json.dump({"variables": variables, "params": params, "optimizers": optimizers, "error": error}, fh,
                  indent=1)


if __name__ == "__main__":
    main()
