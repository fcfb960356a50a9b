"""The recorder: turns what the instrumentation sees into records, without keeping tensors alive.

The `TorchFunctionMode` in `mode.py` calls `on_op` / `on_grad_switch` / `on_backward`; the AST
binding hook calls `bind`; module hooks keep the stack of modules whose forward is running.
Every entry point is guarded by its caller: an exception in here must never reach the user's script.
"""

from __future__ import annotations

import os
import sys
import weakref

import torch

from gradscope.record import walk
from gradscope.record.facts import Facts
from gradscope.record.nan import NanWatch
from gradscope.record.norms import NormTracker
from gradscope.record.records import MAX_CUT_DEPTH, OpEvent, TensorRecord

_Tensor = torch.Tensor
_Parameter = torch.nn.Parameter
_Module = torch.nn.Module

# Frames of torch's grad-mode machinery: a switch is the user's when the frame above these is.
_GRAD_MODE_FILES = ("grad_mode.py", "_contextlib.py")

EVENT_CAP_PER_SITE = 20  # notable events (in-place ops, .grad reads...) kept per source line
GRAD_VALUES_MAX = 16  # gradients with at most this many elements are stored with their values


class _Ref(weakref.ref):
    __slots__ = ("key",)


class Recorder:
    def __init__(self, user_files, *, step: int | None = None, root_names: tuple[str, ...] = (),
                 grad_norms: bool = True, nan: bool = False, stop_after_nan: bool = False):
        self.user_files = user_files
        self.step = step
        self.root_names = root_names
        self.live: dict[int, list] = {}  # id(tensor) -> [ref, record, producing event]
        self.next_id = 0
        self.module_stack: list[int] = []
        self.module_refs: dict[int, weakref.ref] = {}
        self.modules: weakref.WeakSet = weakref.WeakSet()
        self.module_names: dict[int, str] = {}  # id(module) -> variable name it was bound to
        self.optimizers: list[tuple[str, weakref.ref]] = []
        self.optimizer_entries: dict[int, dict] = {}  # id(optimizer) -> {"name", "type", "params"}
        self.params: dict[int, TensorRecord] = {}  # record id -> parameter record (every module's)
        self.module_qualnames: dict[int, str] = {}  # id(module) -> qualified name
        self.module_entries: dict[str, dict] = {}  # qualified name -> {"type", "params", "called"}
        self.off_by = None  # (is_user, file, line) of the switch that turned grad mode off
        self.grad_stack: list[tuple[bool, object]] = []
        self.backward_count = 0
        self.sites: dict[tuple, walk.Snapshot] = {}
        self.snapshots: list[walk.Snapshot] = []
        self.graph = walk.Graph(self)
        self.events: list[dict] = []
        self.warnings: list[dict] = []  # shown to the user during the run (session.py records them)
        self.event_counts: dict[tuple, int] = {}
        self.failures = 0
        self.facts = Facts(self)  # extra facts for the findings
        self.norms = NormTracker(self) if grad_norms else None  # gradient norms per backward call
        self.nan = NanWatch(self, stop=stop_after_nan) if nan or stop_after_nan else None  # --nan

    # -- tensor identity ---------------------------------------------------------------------
    def lookup(self, t):
        entry = self.live.get(id(t))
        if entry is not None and entry[0]() is t:
            return entry[1]
        return None

    def record_for(self, t, file=None, line=None) -> TensorRecord:
        """The record of `t`, creating one (as first seen here) if `t` is new to us."""
        rec = self.lookup(t)
        if rec is None:
            rec = self._new_record(t, None)
            rec.file, rec.line = file, line
            self._snapshot_state(rec, t)
        return rec

    def _new_record(self, t, event) -> TensorRecord:
        rec = TensorRecord(self.next_id)
        self.next_id += 1
        ref = _Ref(t, self._on_tensor_freed)
        ref.key = id(t)
        rec.ref = ref
        self.live[id(t)] = [ref, rec, event]
        kind = type(t)  # Parameter's isinstance is slow (a metaclass check): plain tensors skip it
        if kind is _Parameter or (kind is not _Tensor and isinstance(t, _Parameter)):
            rec.is_parameter = True
        return rec

    def _on_tensor_freed(self, ref) -> None:
        entry = self.live.get(ref.key)
        if entry is not None and entry[0] is ref:
            del self.live[ref.key]
            entry[1].alive = False

    @staticmethod
    def _snapshot_state(rec: TensorRecord, t) -> None:
        rec.requires_grad = t.requires_grad
        rec.is_leaf = t.is_leaf
        fn = t.grad_fn
        if fn is not None:
            rec.grad_fn = type(fn).__name__
            rec.node_seq = walk.sequence_nr(fn)
        else:
            rec.grad_fn = None
            rec.node_seq = None
        rec.shape = tuple(t.shape) if t.layout is torch.strided or t.is_sparse else None
        rec.dtype = t.dtype
        rec.device = t.device

    # -- where in the user's code are we? ----------------------------------------------------
    def user_frame(self, depth: int = 2):
        """The innermost frame in the user's files (or None), walking up from our caller's caller."""
        files = self.user_files
        decided = files._by_code  # the per-code-object cache, read inline: this runs for every op
        f = sys._getframe(depth)
        while f is not None:
            code = f.f_code
            known = decided.get(code)
            if known is None:
                known = files.is_user_code(code)
            if known:
                return f
            f = f.f_back
        return None

    def where(self, depth: int = 3):
        f = self.user_frame(depth)
        if f is None:
            return None, None
        return f.f_code.co_filename, f.f_lineno

    # -- ops ---------------------------------------------------------------------------------
    def on_op(self, op: str, inputs, in_rg, out, mutated, file, line, grad_mode) -> None:
        """Record one op: `inputs` are the tensors it read (with requires_grad before the call)."""
        in_recs = tuple(self.record_for(t, file, line) for t in inputs)
        module = self.module_stack[-1] if self.module_stack else None
        event = OpEvent(op, in_recs, in_rg, file, line, module, grad_mode)
        outputs = []
        if mutated is not None:
            outputs.append(mutated)
        if type(out) is _Tensor or isinstance(out, _Tensor):
            outputs.append(out)
        elif isinstance(out, (tuple, list)):  # also torch.return_types (max, topk, ...)
            outputs.extend(o for o in out if isinstance(o, _Tensor))
        if not outputs:
            return
        user_off = (not grad_mode) and self.off_by is not None and self.off_by[0]
        inference = torch.is_inference_mode_enabled()
        any_rg = any(in_rg)
        recs = []
        seen_nodes = set()
        for t in outputs:
            rec = self.lookup(t)
            fresh = rec is None
            if fresh:
                rec = self._new_record(t, event)
                rec.file, rec.line, rec.op = file, line, op
                rec.module = module
            elif t is mutated or op in _DETACH_INPLACE:
                self.live[id(t)][2] = event
                self._note_mutation(op, rec, file, line)
                self.facts.on_mutation(op, rec, t, file, line)
            else:
                continue  # an op that returned one of its inputs unchanged
            rec.event_ref = event.weak()
            self._hold_if_cut(rec, t, event, in_recs)
            rec.grad_mode = grad_mode
            rec.inputs_rg = any_rg
            if user_off and (fresh or not t.requires_grad):  # `w -= lr * w.grad` leaves w a leaf
                tainted = any_rg or any(r.user_no_grad for r in in_recs)
                rec.user_no_grad = tainted
                if tainted:
                    rec.cut_line = self.off_by[2]
                    rec.cut_op = "no_grad"
            if inference and (fresh or not t.requires_grad):
                rec.inference_made = True
                rec.cut_line = line
                rec.cut_op = "inference_mode"
            if op in _DETACHES and in_recs:
                self.facts.on_detach(op, inputs, file, line)
                rec.detached_from = in_recs[0] if op != "detach_" else None
                rec.cut_line = line
                rec.cut_op = op
            self._snapshot_state(rec, t)
            fn = t.grad_fn
            if fn is not None and id(fn) not in seen_nodes:
                seen_nodes.add(id(fn))
                fn.metadata["gradscope"] = event
                seq = rec.node_seq
                if event.seq is None or seq > event.seq:
                    event.seq = seq
            recs.append(rec)
        event.outputs = tuple(recs)
        if self.nan is not None:
            self.nan.after_op(op, inputs, outputs, mutated, file, line, module)

    def library_grad_off(self) -> bool:
        """Grad mode is off for a library's own bookkeeping: an optimizer's step, weight init, or
        C++ (a custom Function's forward). Not the user's no_grad / inference_mode, and not a library
        running the user's layers with grad off (a reentrant checkpoint), whose ops stay recorded."""
        off = self.off_by
        if off is None:
            return not torch.is_inference_mode_enabled()
        return not off[0] and off[1] is not None and off[1].endswith(_BOOKKEEPING_FILES)

    def on_internal_mutation(self, op, t) -> None:
        """A library changed a tensor in place with grad off (an optimizer updating a parameter)."""
        rec = self.lookup(t)
        if rec is None:
            return  # the library's own state (optimizer moments): never part of the user's graph
        file, line = self.where(4)
        self._note_mutation(op, rec, file, line)
        self.facts.on_mutation(op, rec, t, file, line)

    @staticmethod
    def _hold_if_cut(rec, t, event, in_recs) -> None:
        """Keep the origin of a tensor without gradient (see records.py), bounded in depth."""
        if t.requires_grad:
            rec.event_hold = None
            return
        depth = 0
        for r in in_recs:
            held = r.event_hold
            if held is not None and held.depth >= depth:
                depth = held.depth + 1
        event.depth = depth
        rec.event_hold = event if depth < MAX_CUT_DEPTH else None

    def _note_mutation(self, op, rec, file, line) -> None:
        if self._keep("inplace", file, line):  # the dict is built only while it will be kept
            self.events.append({"kind": "inplace", "op": op, "tensor": rec, "file": file, "line": line})

    def note_event(self, event: dict) -> None:
        """Keep a notable moment for the findings, at most EVENT_CAP_PER_SITE per kind and line."""
        if self._keep(event["kind"], event.get("file"), event.get("line")):
            self.events.append(event)

    def _keep(self, kind, file, line) -> bool:
        """Count one more moment of this kind at this line; True while there is room to keep it."""
        site = (kind, file, line)
        count = self.event_counts.get(site, 0) + 1
        self.event_counts[site] = count
        return count <= EVENT_CAP_PER_SITE

    def on_notable(self, op, t, file, line, out=None) -> None:
        """Moments the findings explain: reading `.grad` of a non-leaf, late `retain_grad()`."""
        if op == "Tensor.grad" and t.is_leaf:
            return
        kind = "grad_read" if op == "Tensor.grad" else "retain_grad"
        self.note_event({"kind": kind, "op": op, "file": file, "line": line,
                         "tensor": self.record_for(t, file, line), "backward_calls": self.backward_count,
                         "retains_grad": bool(t.retains_grad), "grad_none": out is None})

    def on_failed_op(self, op, args, kwargs, exc, file, line) -> None:
        event = {"kind": "error", "op": op, "file": file, "line": line, "error": f"{type(exc).__name__}: {exc}",
                 "requires_grad_kwarg": bool(kwargs.get("requires_grad")) if kwargs else False}
        self.facts.on_error(event, args, kwargs)
        self.note_event(event)

    # -- grad mode ---------------------------------------------------------------------------
    def on_grad_switch(self, enable: bool) -> None:
        """Track who turned grad mode off: the user's own `no_grad` or a library's."""
        f = sys._getframe(2)
        while f is not None and f.f_code.co_filename.endswith(_GRAD_MODE_FILES):
            f = f.f_back
        is_user = f is not None and self.user_files.is_user_code(f.f_code)
        if not enable and not is_user and f is not None:
            self.facts.on_grad_off(f)
            if self.norms is not None:
                self.norms.on_library_grad_off(f)
        current = torch.is_grad_enabled()
        stack = self.grad_stack
        if stack and enable == stack[-1][0]:
            _, self.off_by = stack.pop()  # the exit that restores what the last switch changed
            return
        if len(stack) < 1000:
            stack.append((current, self.off_by))
        if not enable:
            if current or self.off_by is None:  # also a switch inside C++'s own grad-off (Function.forward)
                self.off_by = (is_user, f.f_code.co_filename if f else None, f.f_lineno if f else None)
        else:
            self.off_by = None

    # -- names -------------------------------------------------------------------------------
    def bind(self, value, name: str, line: int, scope) -> None:
        if isinstance(value, _Tensor):
            rec = self.lookup(value)
            if rec is None:
                f = self.user_frame(2)
                rec = self.record_for(value, f.f_code.co_filename if f else None, line)
            if rec.name is None or _outer_binding(rec.scope, scope):
                rec.name, rec.scope, rec.bind_line = name, scope, line
            if self.norms is not None and value.requires_grad and value.is_leaf:
                self.norms.track(rec)
            if "loss" in name.lower():
                self.facts.on_bind(value, name, line)
        elif isinstance(value, _Module):
            self.module_names.setdefault(id(value), name)
            self.modules.add(value)
        elif isinstance(value, torch.optim.Optimizer):
            if not any(ref() is value for _, ref in self.optimizers):
                self.optimizers.append((name, weakref.ref(value)))

    # -- modules -----------------------------------------------------------------------------
    def on_parameter_registered(self, module, name, param) -> None:
        self.modules.add(module)
        if param is None:
            return
        file, line = self.where(3)
        rec = self.record_for(param, file, line)
        rec.is_parameter = True
        self.params[rec.id] = rec
        if self.norms is not None:
            self.norms.on_parameter_registered(module, rec)

    def on_module_enter(self, module, args) -> None:
        key = id(module)
        self.module_stack.append(key)
        if key not in self.module_refs:
            self.module_refs[key] = weakref.ref(module)
            self.modules.add(module)

    def on_module_exit(self, module, args, output) -> None:
        stack = self.module_stack
        key = id(module)
        while stack:
            if stack.pop() == key:
                break

    def name_modules(self) -> None:
        """Name every live module and parameter after the variable holding its top-level module,
        and note which parameters each live optimizer holds.

        Runs at each recorded backward call and at exit: a model local to `train()` is gone by the
        end of the script, but its parameters must still carry their qualified names.
        """
        # torch.compile's wrapper is transparent: its module is named after the user's own variable
        modules = [m for m in self.modules if id(getattr(m, "_orig_mod", None)) not in self.module_names]
        nested = set()
        for m in modules:
            for sub in m.modules():
                if sub is not m:
                    nested.add(id(sub))
        roots = [m for m in modules if id(m) not in nested]
        roots.sort(key=lambda m: self.module_names.get(id(m), "~" + type(m).__name__))
        for root in roots:
            prefix = self.module_names.get(id(root), "")
            for qual, sub in root.named_modules(prefix=prefix):
                qual = qual.replace("._orig_mod", "") or type(sub).__name__
                self.module_qualnames[id(sub)] = qual
                params = []
                for p in sub.parameters(recurse=False):
                    rec = self.record_for(p)
                    rec.is_parameter = True
                    self.params[rec.id] = rec
                    params.append(rec)
                self.module_entries[qual] = {"type": type(sub).__name__, "params": params,
                                             "called": id(sub) in self.module_refs}
            for pname, p in root.named_parameters(prefix=prefix):
                rec = self.lookup(p)
                if rec is not None and rec.param_name is None:
                    rec.param_name = pname.replace("._orig_mod", "")
            for bname, b in root.named_buffers(prefix=prefix):  # running_mean and the like
                rec = self.lookup(b)
                if rec is not None and (rec.name is None or rec.scope is not None):
                    rec.name, rec.scope = bname.replace("._orig_mod", ""), None
        for name, ref in self.optimizers:
            opt = ref()
            if opt is not None:
                params = [self.record_for(p) for group in opt.param_groups for p in group["params"]]
                self.optimizer_entries[id(opt)] = {"name": name, "type": type(opt).__name__, "params": params}

    # -- backward ----------------------------------------------------------------------------
    def on_backward(self, call: str, roots, inputs, func, args, kwargs):
        """Snapshot the graph (when this call is one we keep) before backward frees it, then run it."""
        file, line = self.where(3)
        self.backward_count += 1
        step = self.backward_count
        site = (call, file, line)
        known = self.sites.get(site)
        if self.root_names:
            take = False  # --root NAME replaces the backward roots
        else:
            take = (step == self.step) if self.step is not None else known is None
        snap = None
        if known is not None:
            known.calls += 1
        self.facts.before_backward(roots)
        if take:
            try:
                self.name_modules()
                root_recs = [self.record_for(t, file, line) for t in roots]
                snap = self.graph.snapshot(root_recs, roots, call, file, line, step)
                self.snapshots.append(snap)
                if known is None:
                    self.sites[site] = snap
            except Exception:  # noqa: BLE001
                self.failures += 1
        self._watch_nan(roots)
        watched = self._watched_leaves(snap)
        before = [_grad_token(t) for _, t in watched]
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            if snap is not None:
                snap.raised = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            try:
                self._after_backward(snap, watched, before)
            except Exception:  # noqa: BLE001
                self.failures += 1
        try:
            if call == "autograd.grad":
                self._after_grad(snap, roots, inputs, result, file, line)
        except Exception:  # noqa: BLE001
            self.failures += 1
        self._take_norms(call, file, line)
        if self.nan is not None:
            self.nan.stop_if_asked()
        return result

    def _watch_nan(self, roots) -> None:
        """--nan: hook this call's graph to find the first node whose gradient turns non-finite."""
        if self.nan is None:
            return
        try:
            self.nan.before_backward(roots)
        except Exception:  # noqa: BLE001
            self.failures += 1

    def _take_norms(self, call, file, line) -> None:
        """Gradient norms of every trainable tensor right after this call (off: --no-grad-norms)."""
        if self.norms is None or call == "autograd.grad":  # autograd.grad leaves .grad alone
            return
        try:
            self.norms.after_backward(call, file, line)
        except Exception:  # noqa: BLE001
            self.failures += 1

    def _watched_leaves(self, snap):
        """Every live leaf that requires grad, so the report can say which ones this call reached."""
        if snap is None:
            return []
        out = []
        for ref, rec, _ in list(self.live.values()):
            t = ref()
            if t is not None and t.is_leaf and (t.requires_grad or rec.is_parameter):
                out.append((rec, t))
        return out

    def _after_backward(self, snap, watched, before) -> None:
        if snap is None:
            return
        for (rec, t), token in zip(watched, before):
            after = _grad_token(t)  # autograd.grad leaves .grad alone: False unless asked (below)
            rec.grads[snap.index] = after is not None and after != token

    def _after_grad(self, snap, roots, inputs, result, file, line) -> None:
        """autograd.grad returns gradients instead of accumulating them: record them as its outputs."""
        grads = [g for g in result if isinstance(g, _Tensor)]
        self.on_op("autograd.grad", list(roots) + list(inputs),
                   tuple(t.requires_grad for t in list(roots) + list(inputs)), grads, None, file, line,
                   torch.is_grad_enabled())
        if snap is not None:
            for t, g in zip(inputs, result):
                rec = self.lookup(t)
                if rec is not None:
                    rec.grads[snap.index] = g is not None

    # -- the end -----------------------------------------------------------------------------
    def finish(self, namespace: dict | None) -> None:
        """Called once the script ended: take implicit or named roots, refresh final states."""
        variables = {}
        if namespace is not None:
            for name, value in list(namespace.items()):
                if isinstance(value, _Tensor) and not name.startswith("__"):
                    rec = self.record_for(value)
                    if rec.name is None:
                        rec.name = name
                    variables[name] = rec
                elif isinstance(value, _Module):
                    self.module_names.setdefault(id(value), name)
                    self.modules.add(value)
                elif isinstance(value, torch.optim.Optimizer):
                    self.bind(value, name, 0, None)
        self.variables = variables
        self.facts.finish()
        if self.root_names:
            self._take_named_roots(namespace or {})
        elif self.backward_count == 0:
            self._take_implicit_roots(variables)

    def _take_named_roots(self, namespace) -> None:
        for name in self.root_names:
            value = namespace.get(name)
            if not isinstance(value, _Tensor):
                candidates = [e[1] for e in self.live.values() if e[1].name == name]
                value = candidates[-1].tensor() if candidates else None
            if value is None:
                from gradscope.errors import UsageError

                raise UsageError(f"--root {name}: no tensor is bound to that name at the end of the script")
            rec = self.record_for(value)
            self.snapshots.append(self.graph.snapshot([rec], [value], "selected", rec.file, rec.line, None))

    def _take_implicit_roots(self, variables) -> None:
        candidates = []
        for rec in variables.values():
            t = rec.tensor()
            if t is not None and t.requires_grad and rec not in [c[0] for c in candidates]:
                candidates.append((rec, t))
        reached = set()
        for rec, t in candidates:
            reached |= walk.reachable_tensor_ids(self, t) - {rec.id}
        for rec, t in candidates:
            if rec.id not in reached:
                self.snapshots.append(self.graph.snapshot([rec], [t], "implicit", rec.file, rec.line, None))


# Libraries whose grad-off regions only update their own state or parameters in place.
_BOOKKEEPING_FILES = tuple(os.path.join("torch", *parts) for parts in (
    ("optim", "optimizer.py"), ("optim", "adam.py"), ("optim", "adamw.py"), ("optim", "sgd.py"),
    ("optim", "rmsprop.py"), ("optim", "adagrad.py"), ("optim", "lr_scheduler.py"), ("nn", "init.py"),
    ("nn", "utils", "clip_grad.py"),
))
_DETACHES = frozenset({"detach", "detach_", "Tensor.data"})
_DETACH_INPLACE = frozenset({"detach_", "requires_grad_", "Tensor.requires_grad="})


def _outer_binding(old_scope, new_scope) -> bool:
    """Does a later binding name the tensor better than the first one?

    The first name wins, except that a name in the caller's own code beats one given inside a
    method (a module's or a custom Function's `forward`) or inside a helper that returned it to
    module level: `w = make()` is `w`, `y = MyFn.apply(x)` is `y`, not `result` from `forward`.
    """
    if old_scope is None:
        return False
    if new_scope is None:
        return True
    return "." in old_scope and "." not in new_scope


def _grad_token(t):
    g = t.grad if t.is_leaf else None
    if g is None:
        return None
    return (id(g), g._version)
