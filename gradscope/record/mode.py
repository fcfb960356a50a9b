"""The TorchFunctionMode that sees every tensor op of the script and forwards it to the recorder.

Hot path: everything here runs once per op, so names are cached per function object and the
recorder is only asked to work when an op returns or mutates a tensor. The user's call itself is
never wrapped in a try block of ours beyond re-raising, and anything the recorder raises is
swallowed (and counted): instrumentation must not change what the script does.
"""

from __future__ import annotations

import sys
import types

import torch
from torch.overrides import TorchFunctionMode

from gradscope.record.facts import LOSS_OPS, OPERAND_OPS
from gradscope.record.paths import frame_line
from gradscope.record.torch_private import (
    RECORD_FUNCTION,
    SET_GRAD_ENABLED,
    DisableTorchFunction,
    call_in_state,
    jit_tracing_state,
    torch_function_state,
)
from gradscope.record.torchfiles import OVERRIDES_FILE

_Tensor = torch.Tensor
_MethodWrapper = types.MethodWrapperType

_BACKWARD_CALLS = {
    _Tensor.backward: "backward",
    torch.autograd.backward: "autograd.backward",
    torch.autograd.grad: "autograd.grad",
}
_SET_GRAD = SET_GRAD_ENABLED
# torch.optim's zero_grad() opens a profiler range named "Optimizer.zero_grad#...": the one op it runs
# that the mode sees when it sets the gradients to None.
_ZERO_GRAD_RANGE = "Optimizer.zero_grad#"
_NoTorchFunction = DisableTorchFunction
# True while torch.compile traces: then this mode traces to a plain call (no graph break, nothing recorded).
_compiling = torch.compiler.is_compiling

# Reads that never create or change a tensor: skipped before any bookkeeping.
_PLAIN_READS = frozenset(
    {
        "size", "dim", "numel", "item", "tolist", "stride", "storage_offset", "is_contiguous",
        "data_ptr", "element_size", "__len__", "__repr__", "__format__", "__bool__", "__float__",
        "__int__", "__index__", "__hash__", "Tensor.shape", "Tensor.dtype", "Tensor.device",
        "Tensor.requires_grad", "Tensor.is_leaf", "Tensor.grad_fn", "Tensor.ndim", "Tensor.layout",
        "Tensor.names", "Tensor._version", "Tensor.is_cuda", "__iter__", "untyped_storage",
        "__reduce_ex__", "__deepcopy__", "has_names", "is_floating_point", "is_complex",
        "get_device", "__array__", "numpy", "equal", "__contains__", "_is_view", "is_sparse",
    }
)


def op_name(func) -> str:
    """A readable, stable name: `mul`, `add_`, `Tensor.data` (getter), `Tensor.grad=` (setter)."""
    if type(func) is _MethodWrapper:
        owner = func.__self__
        attr = getattr(owner, "__name__", "?")
        return f"Tensor.{attr}" if func.__name__ == "__get__" else f"Tensor.{attr}="
    name = getattr(func, "__name__", None) or type(func).__name__
    return name


def _is_inplace(name: str) -> bool:
    return (name.endswith("_") and not name.endswith("__")) or name in (
        "__setitem__", "__iadd__", "__isub__", "__imul__", "__itruediv__", "__ipow__", "__imatmul__",
        "__ifloordiv__", "__iand__", "__ior__", "__ixor__", "__ilshift__", "__irshift__", "__imod__",
        "Tensor.data=", "Tensor.requires_grad=",
    )


def _tensors_in(args, kwargs):
    """The tensors an op reads: its arguments, and the tensors inside list/tuple arguments."""
    found = []
    for a in (*args, *kwargs.values()) if kwargs else args:
        if isinstance(a, _Tensor):
            found.append(a)
        elif type(a) in (list, tuple):
            found.extend(b for b in a if isinstance(b, _Tensor))
    return found


def _roots_of(call: str, args, kwargs):
    """The tensors a backward call starts from, and (for autograd.grad) the inputs it asks about."""
    if call == "backward":
        return [args[0]], []
    first = args[0] if args else kwargs.get("tensors", kwargs.get("outputs"))
    roots = [first] if isinstance(first, _Tensor) else list(first or [])
    inputs = []
    if call == "autograd.grad":
        second = args[1] if len(args) > 1 else kwargs.get("inputs")
        inputs = [second] if isinstance(second, _Tensor) else list(second or [])
    elif "inputs" in kwargs and kwargs["inputs"] is not None:
        inp = kwargs["inputs"]
        inputs = [inp] if isinstance(inp, _Tensor) else list(inp)
    return [r for r in roots if isinstance(r, _Tensor)], inputs


class RecordingMode(TorchFunctionMode):
    """Forwards every op to the recorder; see the module docstring for the rules it keeps."""

    def __init__(self, recorder):
        super().__init__()
        self.recorder = recorder
        self._names: dict = {}
        self._wrapper_names: dict = {}
        self._api_codes = _api_codes()

    def _name(self, func):
        if type(func) is _MethodWrapper:
            key = (func.__self__, func.__name__)
            cached = self._wrapper_names.get(key)
            if cached is None:
                cached = self._wrapper_names[key] = _describe(op_name(func))
            return cached
        cached = self._names.get(func)
        if cached is None:
            cached = self._names[func] = _describe(op_name(func))
        return cached

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if kwargs is None:
            kwargs = {}
        if _compiling():
            return func(*args, **kwargs)
        recorder = self.recorder
        try:
            name, plain, inplace = self._name(func)
        except Exception as exc:  # noqa: BLE001 - an odd callable: run it unrecorded, and count that
            recorder.note_failure(exc)
            return func(*args, **kwargs)
        if kwargs.get("inplace") is True:  # F.relu(x, inplace=True): the mode sees F.relu, never relu_
            inplace = True
        if plain:
            if name in _VALUE_READS and args:
                _value_read(recorder, name, args[0])
            if plain == _ESCAPE:
                return self._escape(func, name, args, kwargs)
            if jit_tracing_state() is not None:  # torch.jit.trace warns on len(), bool(): at the script's line
                return _call_from(sys._getframe(1), func, args, kwargs, recorder.note_failure)
            return func(*args, **kwargs)
        call = _BACKWARD_CALLS.get(func)
        if call is not None:
            return self._backward(call, func, args, kwargs)
        if func is _SET_GRAD:
            try:
                recorder.on_grad_switch(bool(args[0]) if args else bool(kwargs.get("mode")))
            except Exception as exc:  # noqa: BLE001
                recorder.note_failure(exc)
            return func(*args, **kwargs)
        if func is RECORD_FUNCTION:
            if args and isinstance(args[0], str) and args[0].startswith(_ZERO_GRAD_RANGE):
                try:
                    recorder.on_zero_grad(sys._getframe(1))
                except Exception as exc:  # noqa: BLE001
                    recorder.note_failure(exc)
            return func(*args, **kwargs)
        try:
            grad_mode = torch.is_grad_enabled()
            if not grad_mode and recorder.library_grad_off():
                return self._internal(func, name, inplace, args, kwargs)
            # `ones_like(x)` / `x.new_zeros(n)` read only x's shape and dtype: x is not an input
            # (but `x.new_tensor(data)` copies the values of data, which is)
            if name.endswith("_like") or name.startswith("new_"):
                inputs = _tensors_in(args[1:], {}) if name == "new_tensor" else []
            else:
                inputs = _tensors_in(args, kwargs)
            with _NoTorchFunction():  # our reads must not reach a subclass's own __torch_function__
                in_rg = tuple(t.requires_grad for t in inputs)
        except Exception as exc:  # noqa: BLE001
            recorder.note_failure(exc)
            return func(*args, **kwargs)
        try:
            call_as = _impersonate(sys._getframe(1), func)
        except Exception as exc:  # noqa: BLE001
            recorder.note_failure(exc)
            call_as = None
        try:
            out = func(*args, **kwargs) if call_as is None else call_as(func, args, kwargs)
        except BaseException as exc:
            try:
                file, line = recorder.where(3)
                recorder.on_failed_op(name, args, kwargs, exc, file, line)
            except Exception as exc:  # noqa: BLE001
                recorder.note_failure(exc)
            raise
        try:
            mutated = None
            if inplace and args and isinstance(args[0], _Tensor):
                mutated = args[0]
            elif "out" in kwargs and isinstance(kwargs["out"], _Tensor):
                mutated = kwargs["out"]
            notable = name in _NOTABLE
            if notable or mutated is not None or isinstance(out, (_Tensor, tuple, list)):
                file, line = recorder.where(3)
                with _NoTorchFunction():
                    recorder.on_op(name, inputs, in_rg, out, mutated, file, line, grad_mode)
                    if notable and args and isinstance(args[0], _Tensor):
                        recorder.on_notable(name, args[0], file, line, out)
                    if name in LOSS_OPS:
                        recorder.facts.on_loss(name, args, kwargs, out, file, line)
                    elif name in OPERAND_OPS and recorder.facts.escaped:
                        recorder.facts.on_operands(name, args, kwargs, out, file, line)
                    caller = sys._getframe(1)
                    api = self._api_codes.get(caller.f_code)
                    if api is not None:  # an op inside a distribution's log_prob (or a helper it called)
                        if api == "":
                            api = self._api_codes.get(caller.f_back.f_code) if caller.f_back else None
                        if api:
                            recorder.facts.on_api_result(api, out, file, line)
        except Exception as exc:  # noqa: BLE001
            recorder.note_failure(exc)
        return out

    def _escape(self, func, name, args, kwargs):
        """`.item()`, `.tolist()`, `.numpy()`, `float(t)`: values leave the graph as plain Python or
        NumPy values. Noted (when the tensor carries gradient) so that a loss rebuilt from them later
        can be traced back here; a refused `.numpy()` is noted as a failed op. Called as the script's
        line calls it, so that PyTorch's warning on reading a value that requires grad points there."""
        recorder = self.recorder
        try:
            out = _call_from(sys._getframe(2), func, args, kwargs, recorder.note_failure)
        except BaseException as exc:
            try:
                file, line = recorder.where(3)
                with _NoTorchFunction():
                    recorder.on_failed_op(name, args, kwargs, exc, file, line)
            except Exception as failure:  # noqa: BLE001
                recorder.note_failure(failure)
            raise
        try:
            if args and isinstance(args[0], _Tensor):
                with _NoTorchFunction():
                    recorder.facts.on_escape(name, args[0], out)
        except Exception as exc:  # noqa: BLE001
            recorder.note_failure(exc)
        return out

    def _internal(self, func, name, inplace, args, kwargs):
        """An op run by library code with grad mode off (optimizer.step(), weight init, a custom
        Function's forward): nothing it makes can carry gradient or be the user's no_grad, so only
        in-place changes to tensors the user's graph knows (parameters) are worth noting."""
        recorder = self.recorder
        out = _call_from(sys._getframe(2), func, args, kwargs, recorder.note_failure)
        if inplace and args and isinstance(args[0], _Tensor):
            try:
                with _NoTorchFunction():
                    recorder.on_internal_mutation(name, args[0])
            except Exception as exc:  # noqa: BLE001
                recorder.note_failure(exc)
        return out

    def _backward(self, call, func, args, kwargs):
        recorder = self.recorder
        try:
            roots, inputs = _roots_of(call, args, kwargs)
        except Exception as exc:  # noqa: BLE001
            recorder.note_failure(exc)
            return func(*args, **kwargs)
        state = torch_function_state()  # the user's call runs in it, not in ours (below)
        caller = sys._getframe(2)  # past __torch_function__: torch's dispatch, then the script's frame

        def as_called(*a, **k):  # as the script's line calls it: a warning raised in backward points there
            return _call_from(caller, func, a, k, recorder.note_failure)

        with _NoTorchFunction():  # the snapshot's reads must not reach a subclass's __torch_function__
            return recorder.on_backward(call, roots, inputs, call_in_state(as_called, state), args, kwargs)


def _api_codes() -> dict:
    """Code object -> "Categorical.log_prob" for every distribution's log_prob; "" for the helpers they
    return through (Independent's `_sum_rightmost`): the recorder tags what log_prob returned."""
    import torch.distributions as dists
    from torch.distributions import utils

    codes: dict = {}
    for value in vars(dists).values():
        if isinstance(value, type) and issubclass(value, dists.Distribution):
            fn = value.__dict__.get("log_prob")
            if fn is not None and hasattr(fn, "__code__"):
                codes[fn.__code__] = f"{value.__name__}.log_prob"
    helper = getattr(utils, "_sum_rightmost", None)
    if helper is not None and hasattr(helper, "__code__"):
        codes[helper.__code__] = ""
    return codes


_VALUE_READS = frozenset({"item", "tolist", "__float__", "__int__", "__index__"})


def _value_read(recorder, name, t) -> None:
    """A Python value read out of a tensor that requires grad: where its graph stops (cut frontier)."""
    try:
        with _NoTorchFunction():
            if isinstance(t, _Tensor) and t.requires_grad:
                file, line = recorder.where(4)
                recorder.facts.on_value_read(name, t, file, line)
    except Exception as exc:  # noqa: BLE001
        recorder.note_failure(exc)



_NOTABLE = frozenset({"Tensor.grad", "retain_grad"})


TRAMPOLINE_NAME = "__gradscope_call__"
_trampolines: dict = {}  # (code, line) -> a caller compiled for that line (see `_impersonate`)


def forget_callers() -> None:
    """Drop the cached callers: they hold the script's globals, so its tensors could not be freed."""
    _trampolines.clear()


def _call_from(frame, func, args, kwargs, note_failure):
    """Run `func` as if `frame` had called it (see `_impersonate`), or plainly when that fails (then a
    warning it gives may point at gradscope's frame: counted)."""
    try:
        call_as = _impersonate(frame, func)
    except Exception as exc:  # noqa: BLE001
        note_failure(exc)
        call_as = None
    return func(*args, **kwargs) if call_as is None else call_as(func, args, kwargs)


def _impersonate(frame, func):
    """A tiny caller compiled under the file, line and globals of the frame that called `func`.

    Without it, a warning raised while we forward the call (PyTorch's C++ warnings, and Python ones
    with stacklevel=2 such as F.mse_loss's) would be attributed to this module, and the default
    filter would merge warnings from different user lines into one. Cached per (code, line).
    """
    while frame is not None and frame.f_code.co_filename in OVERRIDES_FILE:
        frame = frame.f_back
    if frame is not None and getattr(func, "__code__", None) is frame.f_code:
        frame = frame.f_back  # a Python-level torch function re-entered through handle_torch_function
    if frame is None:
        return None
    line = frame_line(frame)
    if not line:
        return None
    key = (frame.f_code, line)
    fn = _trampolines.get(key)
    if fn is None:
        source = "\n" * (line - 1) + f"def {TRAMPOLINE_NAME}(f, a, k): return f(*a, **k)\n"
        namespace: dict = {}
        exec(compile(source, frame.f_code.co_filename, "exec"), namespace)
        fn = types.FunctionType(namespace[TRAMPOLINE_NAME].__code__, frame.f_globals, TRAMPOLINE_NAME)
        _trampolines[key] = fn
    return fn


# Plain reads that take values out of the graph (see `RecordingMode._escape`).
_ESCAPES = frozenset({"item", "tolist", "numpy", "__float__", "__array__"})
_ESCAPE = 2  # `plain` for them: still true, and told apart from True (== 1)


def _describe(name: str):
    plain = _ESCAPE if name in _ESCAPES else name in _PLAIN_READS
    return name, plain, _is_inplace(name)
