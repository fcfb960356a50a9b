"""In-memory records kept while the script runs: small objects that never hold a tensor.

`TensorRecord` describes one tensor object; `OpEvent` one recorded op. Ownership is arranged so that
memory follows the user's own objects:
- a live tensor's record and producing event are held by the recorder's live map (weakly keyed);
- an event whose output has a `grad_fn` is also held by that node's `metadata`, so it lives exactly as
  long as the autograd graph needs it;
- a record points at its producing event only weakly, so chains of detached steps (truncated BPTT)
  do not keep every earlier step's events alive;
- a record of a tensor that carries no gradient holds its producing event strongly, up to
  `MAX_CUT_DEPTH` such events deep, so a cut input's origin (`2.0 * y`, `z.detach()`) can be shown
  after the temporary itself is gone, while a running average updated every step stays bounded.
"""

from __future__ import annotations

import weakref
from typing import NamedTuple


class TensorRecord:
    __slots__ = (
        "id",
        "ref",
        "name",
        "scope",
        "bind_line",
        "file",
        "line",
        "op",
        "event_ref",
        "event_hold",
        "detached_from",
        "cut_line",
        "cut_op",
        "cut_def_line",
        "frozen_line",
        "origin_capped",
        "grad_mode",
        "user_no_grad",
        "inference_made",
        "inputs_rg",
        "module",
        # last-known state, refreshed at events, walks and exit
        "requires_grad",
        "is_leaf",
        "grad_fn",
        "node_seq",
        "shape",
        "dtype",
        "device",
        "is_parameter",
        "is_inference",
        "grad_is_none",
        "grad_shape",
        "grad_values",
        "grads",
        "grad_token",
        "alive",
        "param_name",
        "__weakref__",
    )

    def __init__(self, rid: int):
        self.id = rid
        self.ref = None
        self.name = None
        self.scope = None
        self.bind_line = None
        self.file = None
        self.line = None
        self.op = None
        self.event_ref = None
        self.event_hold = None  # strong, for tensors that carry no gradient (see OpEvent.depth)
        self.detached_from = None
        self.cut_line = None
        self.cut_op = None
        self.cut_def_line = None  # made inside a function decorated with @torch.no_grad(): the decorator's line
        self.frozen_line = None  # the last line that set requires_grad=False on it
        self.origin_capped = False  # its producing event was not held: the chain of cut events was too deep
        self.grad_mode = True
        self.user_no_grad = False
        self.inference_made = False
        self.inputs_rg = False
        self.module = None
        self.requires_grad = False
        self.is_leaf = True
        self.grad_fn = None
        self.node_seq = None
        self.shape = None
        self.dtype = None
        self.device = None
        self.is_parameter = False
        self.is_inference = False
        self.grad_is_none = None
        self.grad_shape = None
        self.grad_values = None
        self.grads = {}
        self.grad_token = None
        self.alive = True
        self.param_name = None

    @property
    def event(self):
        if self.event_hold is not None:
            return self.event_hold
        ref = self.event_ref
        return ref() if ref is not None else None

    def tensor(self):
        ref = self.ref
        return ref() if ref is not None else None


MAX_CUT_DEPTH = 128  # beyond it a cut tensor's origin is not held (the capture's `dropped` counts those shown)


class OpEvent:
    __slots__ = ("op", "inputs", "in_rg", "outputs", "file", "line", "module", "seq", "grad_mode", "depth",
                 "hooked", "before", "__weakref__")

    def __init__(self, op, inputs, in_rg, file, line, module, grad_mode):
        self.op = op
        self.inputs = inputs
        self.in_rg = in_rg
        self.outputs = ()
        self.file = file
        self.line = line
        self.module = module
        self.seq = None
        self.grad_mode = grad_mode
        self.depth = 0
        self.hooked = False  # saved_tensors_hooks were in effect: its nodes' saved tensors are never read
        self.before = None  # an in-place op on a tensor without gradient: the event that made the version it changed

    def weak(self):
        return weakref.ref(self)


class ModuleAttr(NamedTuple):
    """An attribute of a module (`net.fc`), named once the module has its qualified name."""

    owner: int  # id() of the module whose attribute was set
    owner_type: str
    name: str

    def path(self, qualnames: dict[int, str]) -> str:
        return f"{qualnames.get(self.owner, self.owner_type)}.{self.name}"


def plain_shape(shape) -> list[int] | None:
    """A shape as plain ints, or None when a size has no single value (a jagged nested tensor's `j1`)."""
    try:
        return [int(s) for s in shape]
    except Exception:  # noqa: BLE001 - a symbolic size raises whatever its node raises
        return None
