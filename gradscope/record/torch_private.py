"""Every private PyTorch API gradscope uses, listed in one place, each with a fallback.

Another torch version may rename or drop any of these. Then gradscope loses the detail that API
gave (said beside each entry), never the run: every lookup here is guarded, and `MISSING` names
what this torch lacks. No other gradscope module touches a private torch name (a test checks).
"""

from __future__ import annotations

import contextlib
import importlib
from typing import Callable

import torch


def _lookup(dotted: str):
    """`torch._C._set_grad_enabled` -> the object, or None when this torch has no such thing."""
    module_name, _, attr = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        pass
    found = torch  # a namespace that is no module (`torch.ops.profiler`): walked attribute by attribute
    try:
        for part in dotted.split(".")[1:]:
            found = getattr(found, part)
    except Exception:  # noqa: BLE001 - torch.ops raises its own errors for an unknown operator
        return None
    return found


# name -> what is lost without it
APIS = {
    "torch._C.DisableTorchFunction": "our own reads of tensors may reach a subclass's __torch_function__",
    "torch._C._set_grad_enabled": "no_grad blocks are not told apart from the library's (labels no_grad)",
    "torch._C._get_torch_function_state": "backward runs with the mode's torch-function state",
    "torch._C._set_torch_function_state": "backward runs with the mode's torch-function state",
    "torch.overrides._get_current_function_mode_stack": "a forked child keeps recording (never reports)",
    "torch.fx.traceback.format_stack": "anomaly mode's forward traces show gradscope's frames",
    "torch._foreach_norm": "gradient norms take one norm call per tensor instead of one per device",
    "torch._C._autograd._top_saved_tensors_default_hooks": "saved tensors are never read (shapes, in-place checks)",
    "torch.nn.modules.module._has_any_global_hook": "torch.compile(module) warns about gradscope's module hooks",
    "torch.ops.profiler._record_function_enter_new": "zero_grad() between backward() and step() is not seen (GS806)",
    "torch._C._get_tracing_state": "under torch.jit.trace, its warnings on len()/bool() point at gradscope's code",
}
_found = {name: _lookup(name) for name in APIS}
MISSING = tuple(name for name, value in _found.items() if value is None)

# Attributes of autograd nodes read by the graph walk (getattr-guarded where read).
SAVED_PREFIX = "_saved_"  # saved values of a node (torchviz reads them the same way)

DisableTorchFunction = _found["torch._C.DisableTorchFunction"] or contextlib.nullcontext
SET_GRAD_ENABLED = _found["torch._C._set_grad_enabled"]  # identity checked against each op; None never matches
_get_state = _found["torch._C._get_torch_function_state"]
_set_state = _found["torch._C._set_torch_function_state"]
_mode_stack = _found["torch.overrides._get_current_function_mode_stack"]
_foreach_norm = _found["torch._foreach_norm"]
RECORD_FUNCTION = _found["torch.ops.profiler._record_function_enter_new"]  # identity checked; None never matches
# not None while torch.jit.trace runs the script's code (a C call: asked on every plain read)
jit_tracing_state = _found["torch._C._get_tracing_state"] or (lambda: None)
# the module whose format_stack anomaly mode calls (None: its traces are left as torch makes them)
FX_TRACEBACK = importlib.import_module("torch.fx.traceback") if _found["torch.fx.traceback.format_stack"] else None


def foreach_norm(tensors: list, dtype=None) -> list:
    """The 2-norm of each tensor, in one batched call where this torch has `_foreach_norm`;
    `dtype`: accumulate and return in that dtype (float64: a change far below float32's precision shows)."""
    if _foreach_norm is not None:
        return list(_foreach_norm(tensors, 2, dtype=dtype) if dtype is not None else _foreach_norm(tensors))
    return [torch.linalg.vector_norm(t, dtype=dtype) for t in tensors]
_top_saved_hooks = _found["torch._C._autograd._top_saved_tensors_default_hooks"]


def saved_tensors_hooked() -> bool:
    """Are `saved_tensors_hooks` in effect now (so that reading a saved tensor would run the script's
    unpack hook)? True when this torch cannot tell."""
    if _top_saved_hooks is None:
        return True
    try:
        return _top_saved_hooks(False) is not None
    except Exception:  # noqa: BLE001
        return True


def torch_function_state():
    """The current torch-function state (None when this torch cannot tell)."""
    return _get_state() if _get_state is not None and _set_state is not None else None


def call_in_state(func, state):
    """`func` wrapped to run with the torch-function state `state` (or plainly, state None)."""
    if state is None:
        return func

    def call(*args, **kwargs):
        before = _get_state()
        _set_state(state)
        try:
            return func(*args, **kwargs)
        finally:
            _set_state(before)

    return call


# The registries `_has_any_global_hook` reads (torch 2.x).
_GLOBAL_HOOK_REGISTRIES = ("_global_backward_pre_hooks", "_global_backward_hooks", "_global_forward_pre_hooks",
                           "_global_forward_hooks", "_global_forward_hooks_always_called",
                           "_global_forward_hooks_with_kwargs")


def hide_global_hooks(handles) -> Callable[[], None]:
    """Make torch's "are there global module hooks?" check (which makes `torch.compile(module)` warn)
    disregard gradscope's own hooks; returns the undo. Without the private names it does nothing (the
    script then sees that warning, as it would with any global hook)."""
    module = torch.nn.modules.module
    original = _found["torch.nn.modules.module._has_any_global_hook"]
    if original is None or not all(hasattr(module, name) for name in _GLOBAL_HOOK_REGISTRIES):
        return lambda: None
    ours = {handle.id for handle in handles}

    def _has_any_global_hook():
        return any(key not in ours for name in _GLOBAL_HOOK_REGISTRIES for key in getattr(module, name))

    module._has_any_global_hook = _has_any_global_hook

    def undo():
        if module._has_any_global_hook is _has_any_global_hook:
            module._has_any_global_hook = original

    return undo


def function_mode_stack() -> list | None:
    """The active TorchFunctionModes, innermost last (None when this torch cannot tell)."""
    if _mode_stack is None:
        return None
    try:
        return list(_mode_stack())
    except Exception:  # noqa: BLE001
        return None


def sequence_nr(fn):
    """A node's `_sequence_nr()`; without it, nodes are keyed by id (no sharing across snapshots)."""
    try:
        return fn._sequence_nr()
    except Exception:  # noqa: BLE001
        return ("id", id(fn))


def tensor_version(t) -> int | None:
    """`t._version`, the in-place counter (None when unavailable)."""
    try:
        return t._version
    except Exception:  # noqa: BLE001
        return None


def raw_saved(fn, attr: str):
    """The SavedVariable behind a node's `_saved_x` attribute, or None."""
    return getattr(fn, "_raw" + attr, None)

