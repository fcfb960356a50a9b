"""The tensor registry: one `TensorRecord` per tensor object the script touched, held weakly.

A record outlives its tensor (the capture describes freed tensors too); the registry maps live
tensors to their records. A freed tensor's entry stays until the next record is made, but its
reference is dead, so a new tensor that reuses its id is never taken for it. The weak references'
callback is a list's `append`, which runs no Python code: a Ctrl-C cannot land in it (in a Python
callback it would be printed as "Exception ignored" and lost).
"""

from __future__ import annotations

import weakref

import torch

from gradscope.record.records import TensorRecord
from gradscope.record.torch_private import sequence_nr

_Tensor = torch.Tensor
_Parameter = torch.nn.Parameter


class _Ref(weakref.ref):
    __slots__ = ("key",)


class TensorRegistry:
    def __init__(self):
        self._live: dict[int, list] = {}  # id(tensor) -> [ref, record, producing event]
        self.next_id = 0
        self._freed: list[_Ref] = []  # references whose tensor was freed, not yet forgotten (never rebound)

    def lookup(self, t) -> TensorRecord | None:
        # a freed tensor's entry may still be here, but its reference is dead: never taken for `t`
        entry = self._live.get(id(t))
        if entry is not None and entry[0]() is t:
            return entry[1]
        return None

    def record_for(self, t, file=None, line=None) -> TensorRecord:
        """The record of `t`, creating one (as first seen here) if `t` is new to us."""
        rec = self.lookup(t)
        if rec is None:
            rec = self.new_record(t, None)
            rec.file, rec.line = file, line
            refresh_state(rec, t)
        return rec

    def new_record(self, t, event) -> TensorRecord:
        """A record for a tensor not seen before, made by `event` (None: first seen as an input)."""
        rec = TensorRecord(self.next_id)
        self.next_id += 1
        if self._freed:
            self._forget_freed()
        ref = _Ref(t, self._freed.append)
        ref.key = id(t)
        rec.ref = ref
        self._live[id(t)] = [ref, rec, event]
        kind = type(t)  # Parameter's isinstance is slow (a metaclass check): plain tensors skip it
        if kind is _Parameter or (kind is not _Tensor and isinstance(t, _Parameter)):
            rec.is_parameter = True
        return rec

    def set_event(self, t, event) -> None:
        """`event` changed the live tensor `t` in place: it is now what last made it."""
        self._live[id(t)][2] = event

    def entries(self) -> list[list]:
        """[weak ref, record, producing event] of every live tensor, as a list (safe to iterate; the
        entries themselves are the registry's: read them, never change them)."""
        if self._freed:
            self._forget_freed()
        return list(self._live.values())

    def _forget_freed(self) -> None:
        freed, live = self._freed, self._live  # the same list: every reference appends to it
        while freed:
            ref = freed.pop()
            entry = live.get(ref.key)
            if entry is not None and entry[0] is ref:
                del live[ref.key]
                entry[1].alive = False


def refresh_state(rec: TensorRecord, t):
    """Copy `t`'s current autograd state (and shape, dtype, device) into its record; returns its grad_fn."""
    rec.requires_grad = t.requires_grad
    try:
        rec.is_leaf = t.is_leaf
        fn = t.grad_fn
    except RuntimeError:  # a view made under no_grad whose base then changed in place: torch refuses to say
        rec.is_leaf, fn = True, None  # (nn.Embedding's padding_idx row, zeroed at init): no usable graph
    if fn is not None:
        rec.grad_fn = type(fn).__name__
        rec.node_seq = sequence_nr(fn)
    else:
        rec.grad_fn = None
        rec.node_seq = None
    rec.shape = tuple(t.shape) if t.layout is torch.strided or t.is_sparse else None
    rec.dtype = t.dtype
    rec.device = t.device
    return fn
