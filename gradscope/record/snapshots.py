"""The snapshot store: which backward calls get their graph recorded, and what each one reached.

A training loop calls backward thousands of times from the same line: the first call of each call
site is snapshotted (or the N-th call with `--step N`) and the others are counted. After a recorded
call, each watched leaf says whether this call changed its `.grad`. With no backward at all, or
with `--root NAME`, roots are taken from the script's variables at the end.
"""

from __future__ import annotations

import torch

from gradscope.errors import UsageError
from gradscope.record import walk
from gradscope.record.registry import TensorRegistry
from gradscope.record.torch_private import tensor_version


class SnapshotStore:
    def __init__(self, registry: TensorRegistry, graph: walk.Graph, *, step: int | None, root_names: tuple,
                 note_failure):
        self._registry = registry
        self._note_failure = note_failure
        self.graph = graph
        self.step = step
        self.root_names = root_names
        self.backward_count = 0
        self.calls: dict[tuple, int] = {}  # (call, file, line) -> how many times that line called backward
        self.sites: dict[tuple, list[walk.Snapshot]] = {}  # (call, file, line) -> the snapshots taken there
        self.snapshots: list[walk.Snapshot] = []

    # -- at each backward call -------------------------------------------------------------------
    def count_call(self, call: str, file, line) -> bool:
        """Count one backward call (every call of its line, before a snapshot was taken there too: with
        `--step N` the N-th call need not be its line's first); True when its graph is one to record."""
        self.backward_count += 1
        site = (call, file, line)
        calls = self.calls[site] = self.calls.get(site, 0) + 1
        known = self.sites.get(site)
        if known is not None:
            for snap in known:
                snap.calls = calls
        if self.root_names:
            return False  # --root NAME replaces the backward roots
        return (self.backward_count == self.step) if self.step is not None else known is None

    def take(self, roots, call: str, file, line) -> walk.Snapshot:
        """Snapshot the graph below `roots` for the backward call just counted."""
        root_recs = [self._registry.record_for(t, file, line) for t in roots]
        snap = self.graph.snapshot(root_recs, roots, call, file, line, self.backward_count)
        snap.calls = self.calls.get((call, file, line), 1)
        self.snapshots.append(snap)
        self.sites.setdefault((call, file, line), []).append(snap)
        return snap

    def watched_leaves(self, snap) -> list[tuple]:
        """Every live leaf that requires grad, so the report can say which ones this call reached."""
        if snap is None:
            return []
        out = []
        for ref, rec, _ in self._registry.entries():
            t = ref()
            if t is not None and t.is_leaf and (t.requires_grad or rec.is_parameter):
                out.append((rec, t))
        return out

    @staticmethod
    def grad_tokens(watched) -> list:
        return [_grad_token(t) for _, t in watched]

    @staticmethod
    def settle(snap, watched, before) -> None:
        """After the call: which watched leaves it gave a gradient (their .grad changed)."""
        if snap is None:
            return
        for (rec, t), token in zip(watched, before):
            after = _grad_token(t)  # autograd.grad leaves .grad alone: False unless asked (below)
            rec.grads[snap.index] = after is not None and after != token

    def settle_grad(self, snap, inputs, result) -> None:
        """autograd.grad: which of its inputs got a gradient back."""
        if snap is None:
            return
        for t, g in zip(inputs, result):
            rec = self._registry.lookup(t)
            if rec is not None:
                rec.grads[snap.index] = g is not None

    # -- at the end --------------------------------------------------------------------------
    def take_named_roots(self, namespace: dict) -> None:
        """--root NAME: the tensor bound to NAME at the end (or the last tensor ever called NAME)."""
        registry = self._registry
        for name in self.root_names:
            value = namespace.get(name)
            if not issubclass(type(value), torch.Tensor):  # type(): never the value's own __class__
                candidates = [rec for _, rec, _ in registry.entries() if rec.name == name]
                value = candidates[-1].tensor() if candidates else None
            if value is None:
                raise UsageError(f"--root {name}: no tensor is bound to that name at the end of the script")
            rec = registry.record_for(value)
            self.snapshots.append(self.graph.snapshot([rec], [value], "selected", rec.file, rec.line, None))

    def take_implicit_roots(self, variables: dict) -> None:
        """No backward call: every variable requiring grad that no other one reaches is a root."""
        candidates = []
        for rec in variables.values():
            t = rec.tensor()
            if t is not None and t.requires_grad and rec not in [c[0] for c in candidates]:
                candidates.append((rec, t))
        reached = set()
        for rec, t in candidates:
            reached |= walk.reachable_tensor_ids(self._registry, t, self._note_failure) - {rec.id}
        for rec, t in candidates:
            if rec.id not in reached:
                self.snapshots.append(self.graph.snapshot([rec], [t], "implicit", rec.file, rec.line, None))


def _grad_token(t):
    g = t.grad if t.is_leaf else None
    if g is None:
        return None
    return (id(g), tensor_version(g))
