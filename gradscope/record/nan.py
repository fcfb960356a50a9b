"""`--nan`: where the first NaN/Inf came from (issue 14).

Forward: after each op the script runs, until one is found, its floating outputs are checked with
`isfinite` (one reduction and one host sync per op: hence opt-in). The origin is the first op that
made a NaN from inputs without NaN (they may hold Inf: 0 * -inf, a softmax over a fully masked row),
or an Inf from finite inputs by computing it (overflow in `exp`, a division by 0). An Inf an op only
placed (`masked_fill(mask, -inf)`, `torch.where(m, x, -inf)`: an attention mask) or passed on from
an input is not an origin: masks hold -inf on purpose, and softmax turns them into zeros. A NaN
already in an input that no op made (the data) is reported as such.

Backward: before each backward call, until one is found, every node of the graph gets a hook; the first node whose incoming gradient was finite
and whose outgoing gradient is not is the origin, cited by the op and line that made the node.
`--stop-after-nan` ends the script (SystemExit) right after the first origin is noted.
"""

from __future__ import annotations

import functools

import torch

from gradscope.record.torch_private import DisableTorchFunction
from gradscope.record.walk import nodes_from

_Tensor = torch.Tensor
_MARK = "gradscope_nan"  # in a node's metadata: it has our hook already (retain_graph reuses nodes)
MAX_HOOKED = 200_000  # nodes hooked per backward call
# Outputs not computed from the inputs in the forward pass: gradients (backward's hooks judge those).
_NOT_COMPUTED = frozenset({"Tensor.grad", "autograd.grad"})
# Ops that only place or move values: an Inf in their output from finite tensor inputs is a value the
# script gave them (a -inf mask), never an overflow.
_PLACES_VALUES = frozenset({
    "masked_fill", "masked_fill_", "fill", "fill_", "index_fill", "index_fill_", "where", "full_like", "new_full",
    "__setitem__", "scatter", "scatter_", "masked_scatter", "masked_scatter_", "index_put", "index_put_", "pad",
    "constant_pad_nd", "clone", "contiguous", "cat", "stack", "triu", "tril", "triu_", "tril_",
})


class NanStop(SystemExit):
    """Ends the script at the first NaN/Inf (`--stop-after-nan`); exit status 1."""


class NanWatch:
    def __init__(self, recorder, *, stop: bool = False):
        self.recorder = recorder
        self.stop = stop
        self.origins: list[dict] = []  # at most one forward and one backward origin
        self.forward_done = False
        self.backward_done = False

    # -- forward -----------------------------------------------------------------------------------
    def after_op(self, op, inputs, outputs, mutated, file, line, module) -> None:
        if self.forward_done or not inputs or op in _NOT_COMPUTED:
            return  # a factory makes data, not a NaN (`empty` holds whatever the memory had)
        bad = next((t for t in outputs if _floating(t) and not _finite(t)), None)
        if bad is None:
            return
        read = [t for t in inputs if t is not mutated and _floating(t)]
        value = _kind(bad)
        if value == "nan":
            inputs_finite = not any(_has_nan(t) for t in read)  # (they may hold Inf)
        elif op in _PLACES_VALUES or not all(_finite(t) for t in read):
            return  # an Inf placed on purpose or passed on (a -inf attention mask): wait for a NaN
        else:
            inputs_finite = True
        if not inputs_finite and self.backward_done:
            return  # a gradient made non-finite in backward (already noted) being read or printed
        self.forward_done = True
        described = [_describe(self.recorder, t) for t in inputs if t is not mutated]
        rec = self.recorder.lookup(bad)
        self._note({"phase": "forward", "value": value, "op": op, "file": file, "line": line,
                    "tensor": rec, "name": rec.name if rec is not None else None, "module": module,
                    "call": self.recorder.backward_count, "inputs": described, "inputs_finite": inputs_finite,
                    "inputs_inf": any(not _finite(t) for t in read)})

    # -- backward ----------------------------------------------------------------------------------
    def before_backward(self, roots) -> None:
        """Hook every node of this call's graph (until a backward origin has been found)."""
        if self.backward_done:
            return
        starts = [t.grad_fn for t in roots if isinstance(t, _Tensor) and t.grad_fn is not None]
        # a bigger graph: the rest of it is not watched, and that is said
        capped = functools.partial(self.recorder.drops.note, "nan_hooks", MAX_HOOKED, kind="backward", by_line=False)
        for fn in nodes_from(starts, limit=MAX_HOOKED, on_cap=capped):
            if type(fn).__name__ == "AccumulateGrad":
                continue
            meta = fn.metadata
            if _MARK not in meta:
                meta[_MARK] = True
                fn.register_hook(self._node_hook(fn))

    def _node_hook(self, fn):
        name = type(fn).__name__
        event = fn.metadata.get("gradscope")

        def hook(grad_inputs, grad_outputs):
            if self.backward_done:
                return
            try:
                with DisableTorchFunction():
                    self._check_node(name, event, grad_inputs, grad_outputs)
            except Exception as exc:  # noqa: BLE001
                self.recorder.note_failure(exc)

        return hook

    def _check_node(self, name, event, grad_inputs, grad_outputs) -> None:
        produced = [g for g in grad_inputs if isinstance(g, _Tensor)]
        bad = next((g for g in produced if _floating(g) and not _finite(g)), None)
        if bad is None:
            return
        incoming = [g for g in grad_outputs if isinstance(g, _Tensor) and _floating(g)]
        if not all(_finite(g) for g in incoming):
            return  # a node nearer the root made it: its hook ran first and said so
        self.backward_done = True
        made = _output_record(event)
        self._note({"phase": "backward", "value": _kind(bad), "op": name,
                    "file": event.file if event is not None else None,
                    "line": event.line if event is not None else None,
                    "tensor": made, "name": made.name if made is not None else None,
                    "module": event.module if event is not None else None,
                    "call": self.recorder.backward_count,
                    "inputs": [f"made by `{event.op}` in the forward pass"] if event is not None else [],
                    "inputs_finite": True, "inputs_inf": False})

    def _note(self, origin: dict) -> None:
        self.origins.append(origin)
        if origin["phase"] == "forward":
            self.stop_if_asked()

    def stop_if_asked(self) -> None:
        """With --stop-after-nan, end the script once an origin is known (backward: after the call,
        since an exception raised inside autograd's engine would be reported as the engine's)."""
        if self.stop and self.origins:
            origin = self.origins[0]
            self.stop = False
            where = f" at line {origin['line']}" if origin.get("line") else ""
            raise NanStop(f"gradscope: --stop-after-nan: first {origin['value'].upper()} in the "
                          f"{origin['phase']} pass{where} ({origin['op']}); stopping the script")


def _output_record(event):
    """The forward output of the op whose backward node this is (a named one first, for multi-output ops)."""
    outputs = event.outputs if event is not None else ()
    return next((rec for rec in outputs if rec.name), outputs[0] if outputs else None)


def _floating(t) -> bool:
    return isinstance(t, _Tensor) and (t.is_floating_point() or t.is_complex()) and t.layout is torch.strided


def _finite(t) -> bool:
    return t.numel() == 0 or bool(torch.isfinite(t).all())


def _has_nan(t) -> bool:
    return t.numel() > 0 and bool(torch.isnan(t).any())


def _kind(t) -> str:
    return "nan" if _has_nan(t) else "inf"


def _describe(recorder, t) -> str:
    """`x: [3] float32, min -2, max 1.5` (values only for floating tensors)."""
    rec = recorder.lookup(t)
    name = (rec.param_name or rec.name) if rec is not None else None
    if name is None and rec is not None and rec.op:
        name = f"the output of `{rec.op}` (line {rec.line})"
    text = f"{name or 'a tensor'}: {list(t.shape)} {str(t.dtype).replace('torch.', '')}"
    t = t.detach()
    if _floating(t) and not t.is_complex() and t.numel():
        finite = t[torch.isfinite(t)] if not _finite(t) else t
        if finite.numel():
            text += f", min {float(finite.min()):.4g}, max {float(finite.max()):.4g}"
        if not _finite(t):
            text += f", holds {_kind(t)}"
    elif t.numel() == 1:
        text += f" = {t.item()}"
    return text
