"""Extra facts the findings need, recorded beside the main recorder (see `analyse/findings/`).

Each entry point is called from a one-line hook in `mode.py`, `recorder.py` or `walk.py`, runs
only on rare paths (loss ops, in-place ops, failed ops, grad switches by checkpoint, backward calls,
script end) and is guarded by its caller. Nothing here holds a tensor: tensors are looked at while
the hook runs, and what is kept is records, weak references and plain values, noted into
`recorder.events` as dicts.
"""

from __future__ import annotations

import functools
import os
import weakref

import torch

from gradscope.record.torch_private import SAVED_PREFIX, raw_saved
from gradscope.record.walk import nodes_from

_Tensor = torch.Tensor


def _guarded(method):
    """Hooks call these in one line: a failure is counted, never raised into the script."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception:  # noqa: BLE001
            self.recorder.failures += 1
            return None

    return wrapper

# Loss functions whose second positional argument (or `target=`) is the target.
LOSS_OPS = frozenset({
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "kl_div",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "poisson_nll_loss", "gaussian_nll_loss",
    "soft_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss",
    "hinge_embedding_loss",
})

_CHECKPOINT_FILE = os.path.join("torch", "utils", "checkpoint.py")
MAX_WALK = 20000  # graph nodes visited per walk of a never-backpropagated graph
MAX_MUTATIONS = 50000  # storages remembered in the in-place log before it starts over


class _LossSite:
    """One source line that computed a loss: was any loss from it ever backpropagated?"""

    __slots__ = ("file", "line", "op", "rec", "reached", "ref", "params", "__weakref__")

    def __init__(self, file, line, op, rec):
        self.file, self.line, self.op, self.rec = file, line, op, rec
        self.reached = False
        self.ref = None  # weak reference to the latest loss tensor from this line not yet reached
        self.params = None  # parameter records its graph reaches (walked once)


class Facts:
    def __init__(self, recorder):
        self.recorder = recorder
        self.loss_sites: dict[tuple, _LossSite] = {}
        self.mutations: dict[int, tuple] = {}  # storage pointer -> last in-place op on it
        self.data_mutations: dict[int, tuple] = {}  # the same, for in-place ops through `.data`
        self.detach_sites: set[tuple] = set()

    # -- losses ------------------------------------------------------------------------------
    @_guarded
    def on_loss(self, op, args, kwargs, out, file, line) -> None:
        """A loss function ran: note a target that carries gradient; watch the loss itself."""
        target = args[1] if len(args) > 1 else kwargs.get("target")
        if isinstance(target, _Tensor) and target.requires_grad:
            rec = self.recorder
            pred = args[0] if args and isinstance(args[0], _Tensor) else kwargs.get("input")
            rec.note_event({"kind": "loss_target", "op": op, "file": file, "line": line,
                            "tensor": rec.record_for(target, file, line),
                            "input": rec.record_for(pred, file, line) if isinstance(pred, _Tensor) else None})
        if isinstance(out, _Tensor):
            self._watch_loss(out, op, file, line)

    @_guarded
    def on_bind(self, value, name, line) -> None:
        """A tensor bound to a name containing "loss" is a loss too (a hand-written regulariser)."""
        if value.grad_fn is not None and value.dim() == 0:
            rec = self.recorder.lookup(value)
            if rec is not None:
                self._watch_loss(value, name, rec.file, line)

    def _watch_loss(self, t, op, file, line) -> None:
        fn = t.grad_fn
        if fn is None or "gradscope_loss" in fn.metadata:
            return
        key = (file, line)
        site = self.loss_sites.get(key)
        if site is None:
            site = self.loss_sites[key] = _LossSite(file, line, op, self.recorder.record_for(t, file, line))
        if site.reached:
            return
        fn.metadata["gradscope_loss"] = True
        site.ref = weakref.ref(t)
        site_ref = weakref.ref(site)

        def reached(grad_outputs):
            s = site_ref()
            if s is not None:
                s.reached = True

        fn.register_prehook(reached)

    @_guarded
    def before_backward(self, roots) -> None:
        """Walk (once per line) each loss that no backward reached yet, while its graph is alive."""
        root_ids = {id(t) for t in roots}
        for site in self.loss_sites.values():
            if site.reached or site.params is not None or site.ref is None:
                continue
            t = site.ref()
            if t is not None and id(t) not in root_ids:
                site.params = self._params_reached(t.grad_fn)

    def _params_reached(self, fn) -> list:
        return [self.recorder.record_for(node.variable) for node in nodes_from([fn], MAX_WALK)
                if type(node).__name__ == "AccumulateGrad" and getattr(node, "variable", None) is not None]

    # -- cuts ----------------------------------------------------------------------------------
    @_guarded
    def on_detach(self, op, inputs, file, line) -> None:
        """First detach/.data per line of a tensor with a graph: which parameters the cut graph reaches
        (that graph is usually freed right away, so the walk cannot look later)."""
        if not inputs or inputs[0].grad_fn is None or (file, line) in self.detach_sites:
            return
        self.detach_sites.add((file, line))
        rec = self.recorder
        rec.note_event({"kind": "cut_params", "op": op, "file": file, "line": line,
                        "tensor": rec.record_for(inputs[0], file, line),
                        "reaches": self._params_reached(inputs[0].grad_fn)})

    # -- in-place ops --------------------------------------------------------------------------
    @_guarded
    def on_mutation(self, op, rec, t, file, line) -> None:
        ptr = t.untyped_storage().data_ptr()
        if not ptr:
            return
        entry = (op, rec, file, line, self.recorder.registry.next_id)
        if len(self.mutations) > MAX_MUTATIONS:
            self.mutations.clear()
        self.mutations[ptr] = entry
        if rec.cut_op == "Tensor.data":
            self.data_mutations[ptr] = entry

    @_guarded
    def on_node(self, fn, node, names, pending=False) -> None:
        """Check a node's saved tensors: modified in place (backward will raise), or changed through
        `.data` after they were saved (backward will silently use the new values)."""
        for attr in names:
            try:
                getattr(fn, attr)
            except RuntimeError as exc:
                if "inplace" in str(exc):
                    self._note_saved(fn, node, attr, "modified", pending)
                continue
            if self.data_mutations and not pending:
                self._check_data(fn, node, attr)

    def _check_data(self, fn, node, attr) -> None:
        value = getattr(fn, attr)
        if not isinstance(value, _Tensor):
            return
        entry = self.data_mutations.get(value.untyped_storage().data_ptr())
        event = node.event
        if entry is None or event is None or not event.outputs:
            return
        if entry[4] > min(r.id for r in event.outputs):  # changed after the op that saved it ran
            self._note_saved(fn, node, attr, "data", False, entry)

    def _note_saved(self, fn, node, attr, how, pending, entry=None) -> None:
        ptr = None
        if entry is None:
            raw = raw_saved(fn, attr)
            data = getattr(raw, "data", None)
            if isinstance(data, _Tensor):
                ptr = data.untyped_storage().data_ptr()
                entry = self.mutations.get(ptr)
        event = node.event
        saved = None
        if event is not None and ptr is not None:
            for r in (*event.outputs, *event.inputs):
                t = r.tensor()
                if t is not None and t.untyped_storage().data_ptr() == ptr:
                    saved = r
                    break
        if saved is None and event is not None:
            position = _SAVED_POSITIONS.get(attr[len(SAVED_PREFIX):])
            if position is not None:
                records = event.outputs if position[0] == "out" else event.inputs
                saved = records[position[1]] if len(records) > position[1] else None
        self.recorder.note_event({
            "kind": "saved_modified" if how == "modified" else "saved_changed_via_data",
            "file": entry[2] if entry else None, "line": entry[3] if entry else None,
            "op": entry[0] if entry else None, "tensor": entry[1] if entry else None,
            "saved": saved, "saved_name": attr[len(SAVED_PREFIX):], "node": node.name,
            "saved_by_op": event.op if event is not None else None,
            "saved_by_line": event.line if event is not None else None,
            "pending": pending,
        })

    # -- failed ops, checkpoint ----------------------------------------------------------------
    @_guarded
    def on_error(self, event, args, kwargs) -> None:
        """Add what the findings need to a failed op: the integer dtype, the inference tensors."""
        message = event["error"]
        rec = self.recorder
        tensors = [a for a in args if isinstance(a, _Tensor)]
        if "floating point" in message and "require" in message:
            dtype = kwargs.get("dtype") if kwargs else None
            if dtype is None and tensors:
                dtype = tensors[0].dtype
            elif dtype is None and args and event["op"] in ("tensor", "as_tensor"):
                dtype = torch.as_tensor(args[0]).dtype
            event["dtype"] = str(dtype).replace("torch.", "") if dtype is not None else None
            if tensors:
                target = rec.record_for(tensors[0], event["file"], event["line"])
                event["tensor"] = target
                event["nearby"] = self._float_consumer(target)
        elif "Inference tensor" in message or "inference tensor" in message:
            event["tensors"] = [rec.record_for(t, event["file"], event["line"]) for t in tensors
                                if t.is_inference()]

    def _float_consumer(self, target):
        """A live floating-point tensor made from `target` that requires grad (an embedding's output)."""
        for ref, r, ev in self.recorder.registry.entries():
            t = ref()
            if (t is not None and ev is not None and target in ev.inputs and t.requires_grad
                    and t.is_floating_point()):
                return r
        return None

    @_guarded
    def on_grad_off(self, frame) -> None:
        """Reentrant `checkpoint` runs its function under no_grad: note the user's call and its inputs."""
        if not frame.f_code.co_filename.endswith(_CHECKPOINT_FILE):
            return
        args = frame.f_locals.get("args") or ()
        user = frame.f_back
        is_user = self.recorder.user_files.is_user_code
        while user is not None and not is_user(user.f_code):
            user = user.f_back
        self.recorder.note_event({
            "kind": "checkpoint", "file": user.f_code.co_filename if user else None,
            "line": user.f_lineno if user else None,
            "inputs_require_grad": any(isinstance(a, _Tensor) and a.requires_grad for a in args),
        })

    # -- the end -------------------------------------------------------------------------------
    @_guarded
    def finish(self) -> None:
        rec = self.recorder
        for site in self.loss_sites.values():
            if site.reached:
                continue
            t = site.ref() if site.ref is not None else None
            if site.params is None and t is not None:
                site.params = self._params_reached(t.grad_fn)
            rec.note_event({"kind": "unused_loss", "file": site.file, "line": site.line, "op": site.op,
                            "tensor": site.rec, "reaches": list(site.params or [])})
        self._check_pending_graphs()

    def _check_pending_graphs(self) -> None:
        """Saved tensors modified in place in the graph of a loss no backward ran through (the error
        was dodged). Only such losses: a graph already backpropagated with retain_graph (or by
        autograd.grad) looks the same once the optimizer has updated its weights in place."""
        graph = self.recorder.graph
        roots = []
        for site in self.loss_sites.values():
            t = site.ref() if site.ref is not None and not site.reached else None
            if t is not None and t.grad_fn is not None:
                roots.append(t.grad_fn)
        for fn in nodes_from(roots, MAX_WALK, skip=set(graph.nodes)):  # nodes a snapshot saw are checked
            name = type(fn).__name__
            if name == "AccumulateGrad":
                continue
            names = graph.saved_names(fn)
            if names:
                self.on_node(fn, _PendingNode(name, fn), names, pending=True)


# What common saved names stand for, when the saved tensor itself is no longer alive to compare.
_SAVED_POSITIONS = {"result": ("out", 0), "self": ("in", 0), "other": ("in", 1), "input": ("in", 0)}


class _PendingNode:
    __slots__ = ("name", "event")

    def __init__(self, name, fn):
        self.name = name
        try:
            self.event = fn.metadata.get("gradscope")
        except Exception:  # noqa: BLE001
            self.event = None
