"""The recorder: turns what the instrumentation sees into records, without keeping tensors alive.

The `TorchFunctionMode` in `mode.py` calls `on_op` / `on_grad_switch` / `on_backward`; the AST
binding hook calls `bind`; module hooks keep the stack of modules whose forward is running.
Every entry point is guarded by its caller: an exception in here must never reach the user's script.
"""

from __future__ import annotations

import sys

import torch

from gradscope.record import walk
from gradscope.record.caps import Drops
from gradscope.record.facts import Facts
from gradscope.record.failures import Failures
from gradscope.record.gradmode import GradModeTracker
from gradscope.record.modules import ModuleNamer
from gradscope.record.nan import NanWatch
from gradscope.record.norms import NormTracker
from gradscope.record.steps import StepOrder
from gradscope.record.paths import frame_line
from gradscope.record.records import MAX_CUT_DEPTH, ModuleAttr, OpEvent, TensorRecord
from gradscope.record.registry import TensorRegistry, refresh_state
from gradscope.record.snapshots import SnapshotStore
from gradscope.record.torch_private import saved_tensors_hooked
from gradscope.record.torchfiles import OVERRIDES_FILE

_Tensor = torch.Tensor
_Module = torch.nn.Module
_Optimizer = torch.optim.Optimizer

EVENT_CAP_PER_SITE = 20  # notable events (in-place ops, .grad reads...) kept per kind and line, then the latest
MAX_FRAME_LOCALS = 64  # tensors kept per frame of the traceback (a module frame's globals can be many)
GRAD_VALUES_MAX = 16  # gradients with at most this many elements are stored with their values


class Recorder:
    """Routes each hook to the job it concerns, and keeps what the findings read (events, warnings).

    Its parts: `registry` (tensor -> record), `grad` (who turned grad mode off), `modules` (module
    stack and names), `store` (which backward calls are recorded), `graph` (the nodes walked),
    `facts` (extra facts for the findings). They share only public methods.
    """

    def __init__(self, user_files, *, step: int | None = None, root_names: tuple[str, ...] = (),
                 stop_after: int | None = None, grad_norms: bool = True, nan: bool = False,
                 stop_after_nan: bool = False):
        self.user_files = user_files
        self.stop_after = stop_after  # --stop-after N
        self.stopped = False  # True once stop_after ended the script
        self.root_names = root_names
        self.registry = TensorRegistry()
        self.inference_by = None  # the user's line that last entered torch.inference_mode()
        self.events: list[dict] = []
        self.warnings: list[dict] = []  # shown to the user during the run (session.py records them)
        self.event_counts: dict[tuple, int] = {}  # (kind, file, line) -> moments seen there
        self._latest: dict[tuple, int] = {}  # (kind, file, line) -> index in events of the latest kept beyond the cap
        self.drops = Drops()  # what the other caps left out (the events' own: from event_counts)
        self.failures = Failures(user_files.is_user_code)
        self.facts = Facts(self)  # extra facts for the findings
        self.grad = GradModeTracker(user_files.is_user_code, self._on_library_grad_off, self.drops)
        self.modules = ModuleNamer(self.registry)
        self.graph = walk.Graph(self.registry, self.facts, self.note_failure, self.drops)
        self.store = SnapshotStore(self.registry, self.graph, step=step, root_names=root_names,
                                   note_failure=self.note_failure)
        self.variables: dict[str, TensorRecord] = {}
        self.raise_frames: list[tuple[str, str, int, dict]] = []  # see _raise_frames
        # hot paths, called straight from the mode (no delegating frame: grad switches count frames)
        self.lookup = self.registry.lookup
        self.record_for = self.registry.record_for
        self.on_grad_switch = self.grad.on_switch
        self.library_grad_off = self.grad.library_off
        self.name_modules = self.modules.name_modules
        self.steps = StepOrder(self)  # zero_grad(), step() and backward calls, in order (GS806)
        self.norms = NormTracker(self) if grad_norms else None  # gradient norms per backward call
        self.nan = NanWatch(self, stop=stop_after_nan) if nan or stop_after_nan else None  # --nan

    @property
    def backward_count(self) -> int:
        return self.store.backward_count

    def note_failure(self, exc: BaseException) -> None:
        """One of gradscope's own steps failed: keep the script running, and say so in the capture."""
        self.failures.note(exc)

    @property
    def snapshots(self) -> list[walk.Snapshot]:
        return self.store.snapshots

    # -- where in the user's code are we? ----------------------------------------------------
    def user_frame(self, depth: int = 2):
        """The innermost frame in the user's files (or None), walking up from our caller's caller."""
        return self.user_files.innermost_user_frame(sys._getframe(depth))

    def on_zero_grad(self, frame) -> None:
        """An optimizer's zero_grad() began (`frame`: the profiler range it opened): which optimizer, from
        the zero_grad frame's `self`, and the user's line that called it."""
        for _ in range(4):
            frame = frame.f_back
            if frame is None:
                return
            owner = frame.f_locals.get("self")
            if isinstance(owner, torch.optim.Optimizer):
                file, line = self.where(3)
                self.steps.on_zero_grad(owner, file, line)
                if self.norms is not None:
                    self.norms.on_zero_grad()
                return

    def before_step(self, optimizer) -> None:
        """An optimizer step begins (hooked on every optimizer): does it apply any gradient?"""
        applies_nothing = self.steps.applies_nothing(optimizer)
        if self.norms is not None:
            self.norms.before_step(optimizer, applies_nothing)

    def where(self, depth: int = 3):
        f = self.user_frame(depth)
        if f is None:
            return None, None
        return f.f_code.co_filename, frame_line(f)

    # -- ops ---------------------------------------------------------------------------------
    def on_op(self, op: str, inputs, in_rg, out, mutated, file, line, grad_mode) -> None:
        """Record one op: `inputs` are the tensors it read (with requires_grad before the call)."""
        in_recs = tuple(self.record_for(t, file, line) for t in inputs)
        module = self.modules.current
        event = OpEvent(op, in_recs, in_rg, file, line, module, grad_mode)
        outputs = []
        if mutated is not None:
            outputs.append(mutated)
        if type(out) is _Tensor or isinstance(out, _Tensor):
            if out is not mutated:  # `p.requires_grad_(False)`, `x.add_(1)` return the tensor they changed
                outputs.append(out)
        elif isinstance(out, (tuple, list)):  # also torch.return_types (max, topk, ...)
            outputs.extend(o for o in out if isinstance(o, _Tensor) and o is not mutated)
        if not outputs:
            return
        off_by = self.grad.off_by
        user_off = (not grad_mode) and off_by is not None and off_by[0]
        inference = torch.is_inference_mode_enabled()
        any_rg = any(in_rg)
        registry = self.registry
        lookup = registry.lookup
        recs = []
        lost_grad = False  # an output without gradient
        seen_nodes = set()
        # a detach is a cut when the user's code made it, or when what it detached carried gradient: a library
        # detaching a constant (`nn.Buffer(t)`, `register_buffer`) cuts nothing of the user's
        detaches = op in _DETACHES and bool(in_recs) and (any_rg or self._called_by_user(sys._getframe(2)))
        for t in outputs:
            rec = lookup(t)
            fresh = rec is None
            if fresh:
                rec = registry.new_record(t, event)
                rec.file, rec.line, rec.op = file, line, op
                rec.module = module
            elif t is mutated or op in _DETACH_INPLACE:
                if rec.event_hold not in (None, event) and rec in in_recs:  # relu_ of a frozen stem's output
                    event.before = rec.event_hold
                if op in _FREEZES and not t.requires_grad:
                    rec.frozen_line = line  # kept on the record: a cap on events never loses it
                registry.set_event(t, event)
                self._note_mutation(op, rec, file, line)
                self.facts.on_mutation(op, rec, t, file, line)
            else:
                lost_grad = lost_grad or not t.requires_grad
                continue  # an op that returned one of its inputs unchanged
            rec.event_ref = event.weak()
            self._hold_if_cut(rec, t, event, in_recs)
            rec.grad_mode = grad_mode
            rec.inputs_rg = any_rg
            if user_off and (fresh or not t.requires_grad):  # `w -= lr * w.grad` leaves w a leaf
                tainted = any_rg or any(r.user_no_grad for r in in_recs)
                rec.user_no_grad = tainted
                if tainted:
                    rec.cut_line = off_by[2]
                    rec.cut_op = off_by[3]
                    rec.cut_def_line = off_by[4] if len(off_by) > 4 else None
            if inference and (fresh or not t.requires_grad):
                rec.inference_made = True
                rec.cut_line = self.inference_by or line
                rec.cut_op = "inference_mode"
            if detaches:
                self.facts.on_detach(op, inputs, file, line)
                rec.detached_from = in_recs[0] if op != "detach_" else None
                rec.cut_line = line
                rec.cut_op = op
            fn = refresh_state(rec, t)
            lost_grad = lost_grad or not rec.requires_grad
            if fn is not None and id(fn) not in seen_nodes:
                if not seen_nodes and saved_tensors_hooked():
                    event.hooked = self.graph.saved_hooks_seen = True
                seen_nodes.add(id(fn))
                fn.metadata["gradscope"] = event
                seq = rec.node_seq
                if event.seq is None or seq > event.seq:
                    event.seq = seq
            recs.append(rec)
        event.outputs = tuple(recs)
        if self.nan is not None:
            self.nan.after_op(op, inputs, outputs, mutated, file, line, module)
        if any_rg and lost_grad:  # (most ops: no cut, no call)
            self.facts.on_cut(op, inputs, in_rg, outputs, file, line, grad_mode, off_by)
        elif op == "Tensor.data=" and len(in_rg) > 1 and in_rg[1]:
            self.facts.on_data_assign(op, inputs[0], inputs[1], file, line)

    def _called_by_user(self, frame) -> bool:
        """Did the user's code itself call the op that `frame` (the caller of the mode) called? torch's
        `handle_torch_function` detour is skipped: it only exists because a mode is active."""
        while frame is not None and frame.f_code.co_filename in OVERRIDES_FILE:
            frame = frame.f_back
        return frame is not None and self.user_files.is_user_code(frame.f_code)

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
        if depth < MAX_CUT_DEPTH:
            rec.event_hold = event
        else:
            rec.event_hold = None
            rec.origin_capped = True

    def _note_mutation(self, op, rec, file, line) -> None:
        self._keep({"kind": "inplace", "op": op, "tensor": rec, "file": file, "line": line}, "inplace", file, line)

    def note_event(self, event: dict) -> None:
        """Keep a notable moment for the findings (see `_keep`)."""
        self._keep(event, event["kind"], event.get("file"), event.get("line"))

    def _keep(self, event, kind, file, line) -> None:
        """Keep the first EVENT_CAP_PER_SITE moments of each kind at each line, and the latest one: each
        later moment takes the place of the one before it, which is counted as dropped (`dropped_events`)."""
        site = (kind, file, line)
        count = self.event_counts.get(site, 0) + 1
        self.event_counts[site] = count
        if count <= EVENT_CAP_PER_SITE:
            self.events.append(event)
        elif count == EVENT_CAP_PER_SITE + 1:
            self._latest[site] = len(self.events)
            self.events.append(event)
        else:
            self.events[self._latest[site]] = event

    def dropped_events(self) -> list[tuple[str, str | None, int | None, int]]:
        """(kind, file, line, how many) for each line whose moments of a kind were not all kept."""
        first_and_latest = EVENT_CAP_PER_SITE + 1
        return [(kind, file, line, count - first_and_latest)
                for (kind, file, line), count in self.event_counts.items() if count > first_and_latest]

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

    def on_inference_enter(self) -> None:
        """`torch.inference_mode()` entered (as a block or a decorator): remember the user's line."""
        self.inference_by = self.where(3)[1]

    def _on_library_grad_off(self, frame) -> None:
        """A library turned grad mode off (checkpoint, clip_grad_norm_...): tell who needs to know."""
        self.facts.on_grad_off(frame)
        if self.norms is not None:
            self.norms.on_library_grad_off(frame)

    # -- names -------------------------------------------------------------------------------
    def bind(self, value, name: str, line: int, scope) -> None:
        kind = type(value)  # never isinstance: it may run the value's own `__class__`
        if issubclass(kind, _Tensor):
            rec = self.lookup(value)
            if rec is None:
                f = self.user_frame(2)
                rec = self.record_for(value, f.f_code.co_filename if f else None, line)
            if rec.name is None or _outer_binding(rec.scope, scope):
                rec.name, rec.scope, rec.bind_line = name, scope, line
            if self.norms is not None and value.requires_grad and value.is_leaf:
                self.norms.track(rec)
            if value.grad_fn is not None and value.dim() == 0:  # a scalar with a graph: maybe a loss
                self.facts.on_bind(value, name, line)
        elif issubclass(kind, _Module):
            self.modules.bind_module(value, name)
        elif issubclass(kind, _Optimizer):
            self.modules.bind_optimizer(value, name, line)

    # -- modules (hooks) ---------------------------------------------------------------------
    def on_parameter_registered(self, module, name, param) -> None:
        file, line = self.where(3) if param is not None else (None, None)
        old = module._parameters.get(name)
        if old is not None and old is not param:
            self._note_replaced(module, name, "parameter", [old], [param] if param is not None else [])
        self.modules.on_parameter_registered(module, param, file, line)
        if self.norms is not None and param is not None:
            self.norms.on_parameter_registered(module, self.record_for(param))

    def on_module_registered(self, module, name, submodule) -> None:
        """A submodule assigned where another one was: the old one's parameters leave the model."""
        old = module._modules.get(name)
        if old is not None and old is not submodule:
            new = list(submodule.parameters()) if submodule is not None else []
            kept = {id(p) for p in new}
            gone = [p for p in old.parameters() if id(p) not in kept]
            if gone:
                self._note_replaced(module, name, "module", gone, new)

    def _note_replaced(self, module, name, what, old, new) -> None:
        file, line = self.where(4)
        self.note_event({"kind": "replaced", "what": what, "file": file, "line": line,
                         "module": ModuleAttr(id(module), type(module).__name__, name),
                         "old": [self.record_for(p, file, line) for p in old],
                         "new": [self.record_for(p, file, line) for p in new]})

    def on_module_enter(self, module, args) -> None:
        self.modules.on_module_enter(module)

    def on_module_exit(self, module, args, output) -> None:
        self.modules.on_module_exit(module)

    # -- backward ----------------------------------------------------------------------------
    def on_backward(self, call: str, roots, inputs, func, args, kwargs):
        """Snapshot the graph (when this call is one we keep) before backward frees it, then run it."""
        self.stop_if_done()
        file, line = self.where(3)
        store = self.store
        take = store.count_call(call, file, line)
        snap = None
        self.facts.before_backward(roots)
        if take:
            try:
                self.name_modules()
                snap = store.take(roots, call, file, line)
            except Exception as exc:  # noqa: BLE001
                self.note_failure(exc)
        self._watch_nan(roots)
        watched = store.watched_leaves(snap)
        before = store.grad_tokens(watched)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            if snap is None and not self.root_names:
                snap = self._snapshot_failed(call, roots, file, line)
            if snap is not None:
                snap.raised = f"{type(exc).__name__}: {exc}"
            self.facts.on_backward_error(exc, roots, file, line)
            raise
        finally:
            try:
                store.settle(snap, watched, before)
            except Exception as exc:  # noqa: BLE001
                self.note_failure(exc)
        try:
            if call == "autograd.grad":
                self._after_grad(snap, roots, inputs, result, file, line)
        except Exception as exc:  # noqa: BLE001
            self.note_failure(exc)
        if call != "autograd.grad":  # autograd.grad leaves .grad alone
            self.steps.after_backward(line)
        self._take_norms(call, file, line, snap is not None)
        if self.nan is not None:
            self.nan.stop_if_asked()
        self.stop_if_done()
        return result

    def _watch_nan(self, roots) -> None:
        """--nan: hook this call's graph to find the first node whose gradient turns non-finite."""
        if self.nan is None:
            return
        try:
            self.nan.before_backward(roots)
        except Exception as exc:  # noqa: BLE001
            self.note_failure(exc)

    def _take_norms(self, call, file, line, recorded: bool) -> None:
        """Gradient norms of every trainable tensor right after this call (off: --no-grad-norms);
        `recorded`: this call's graph was snapshotted (its norms are kept apart for the views)."""
        if self.norms is None or call == "autograd.grad":  # autograd.grad leaves .grad alone
            return
        try:
            self.norms.after_backward(call, file, line, recorded)
        except Exception as exc:  # noqa: BLE001
            self.note_failure(exc)

    def _snapshot_failed(self, call, roots, file, line):
        """A call that raised is always recorded (even a later call of a line seen before): its
        graph, as the failure left it, is what the findings and the tree explain."""
        try:
            self.name_modules()
            return self.store.take(roots, call, file, line)
        except Exception as exc:  # noqa: BLE001
            self.note_failure(exc)
            return None

    def stop_if_done(self) -> None:
        """--stop-after N: end the script as `sys.exit(0)` would (finally, with and atexit run) once its
        N-th backward call returns; a later backward call (the script swallowed that SystemExit, or
        the N-th call raised) exits again before it runs."""
        limit = self.stop_after
        if limit is not None and self.backward_count >= limit:
            self.stopped = True
            raise SystemExit(0)

    def _after_grad(self, snap, roots, inputs, result, file, line) -> None:
        """autograd.grad returns gradients instead of accumulating them: record them as its outputs."""
        grads = [g for g in result if isinstance(g, _Tensor)]
        self.on_op("autograd.grad", list(roots) + list(inputs),
                   tuple(t.requires_grad for t in list(roots) + list(inputs)), grads, None, file, line,
                   torch.is_grad_enabled())
        self.store.settle_grad(snap, inputs, result)

    # -- the end -----------------------------------------------------------------------------
    def finish(self, namespace: dict | None, traceback=None) -> None:
        """Called once the script ended: take implicit or named roots, refresh final states, and note the
        tensors in the locals of each user frame the script's exception (`traceback`) left."""
        if self.norms is not None:
            try:
                self.norms.flush()  # the norms of the last calls may still be on their way (a GPU)
            except Exception as exc:  # noqa: BLE001
                self.note_failure(exc)
        self.raise_frames = self._raise_frames(traceback)
        variables = {}
        if namespace is not None:
            for name, value in list(namespace.items()):
                kind = type(value)  # never isinstance: it may run the value's own `__class__`
                if issubclass(kind, _Tensor) and not name.startswith("__"):
                    rec = self.record_for(value)
                    if rec.name is None:
                        rec.name = name
                    variables[name] = rec
                elif issubclass(kind, _Module):
                    self.modules.bind_module(value, name)
                elif issubclass(kind, _Optimizer):
                    self.modules.bind_optimizer(value, name)
        self.variables = variables
        self.facts.finish()
        if self.root_names:
            self.store.take_named_roots(namespace or {})
        elif self.backward_count == 0:
            self.store.take_implicit_roots(variables)

    def release(self) -> None:
        """The capture is built and nothing reads the recorder again: drop all it holds now. Its parts
        point back at it, so the record (hundreds of thousands of objects on a large trace) would
        otherwise wait in cycles for the cyclic collector, whose last pass at exit would traverse it
        all; dropped here, reference counting frees it at once."""
        self.__dict__.clear()

    def _raise_frames(self, tb) -> list[tuple[str, str, int, dict]]:
        """(function, file, line, {local name: record}) per user frame of the traceback, outermost first.
        The tensors are still those frames' own (the traceback keeps them), so their state is the raise's."""
        frames = []
        while tb is not None:
            frame, code = tb.tb_frame, tb.tb_frame.f_code
            if self.user_files.is_user_code(code):
                function = getattr(code, "co_qualname", code.co_name)  # co_qualname: python 3.11+
                scope = None if code.co_name == "<module>" else function
                held = {}
                left = 0
                for name, value in list(frame.f_locals.items()):
                    if issubclass(type(value), _Tensor) and not name.startswith("__"):
                        if len(held) >= MAX_FRAME_LOCALS:
                            left += 1
                            continue
                        rec = self.record_for(value, code.co_filename, tb.tb_lineno)
                        if rec.name is None:
                            rec.name, rec.scope = name, scope
                        held[name] = rec
                if left:
                    self.drops.note("frame_locals", MAX_FRAME_LOCALS, count=left, file=code.co_filename,
                                    line=tb.tb_lineno)
                frames.append((function, code.co_filename, tb.tb_lineno, held))
            tb = tb.tb_next
        return frames


_DETACHES = frozenset({"detach", "detach_", "Tensor.data"})
_DETACH_INPLACE = frozenset({"detach_", "requires_grad_", "Tensor.requires_grad="})
_FREEZES = frozenset({"requires_grad_", "Tensor.requires_grad="})


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
