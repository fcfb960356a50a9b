"""Extra facts the findings need, recorded beside the main recorder (see `analyse/findings/`).

Each entry point is called from a one-line hook in `mode.py`, `recorder.py` or `walk.py`, runs
only on rare paths (loss ops, in-place ops, failed ops, grad switches by checkpoint, backward calls,
script end) and is guarded by its caller. Nothing here holds a tensor: tensors are looked at while
the hook runs, and what is kept is records, weak references and plain values, noted into
`recorder.events` as dicts.
"""

from __future__ import annotations

import ast
import functools
import inspect
import os
import re
import sys
import textwrap
import weakref

import torch

from gradscope.record.torch_private import SAVED_PREFIX, raw_saved
from gradscope.record.walk import node_event, node_key, nodes_from

_Tensor = torch.Tensor


def _guarded(method):
    """Hooks call these in one line: a failure is counted, never raised into the script."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            self.recorder.note_failure(exc)
            return None

    return wrapper

# Loss functions whose second positional argument (or `target=`) is the target.
LOSS_OPS = frozenset({
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss", "kl_div",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "poisson_nll_loss", "gaussian_nll_loss",
    "soft_margin_loss", "multilabel_soft_margin_loss", "multilabel_margin_loss", "multi_margin_loss",
    "hinge_embedding_loss",
})

# Where reentrant checkpoint's frames live: compared as a path, never by a file name's suffix.
_CHECKPOINT_FILE = os.path.join(os.path.dirname(torch.utils.__file__), "checkpoint.py")
MAX_WALK = 20000  # graph nodes visited per walk of a never-backpropagated graph
MAX_MUTATIONS = 50000  # storages remembered in the in-place log before it starts over
MAX_CUT_SITES = 2000  # (line, op) sites where gradient stopped, kept for the cut frontier
ESCAPED_MAX = 64  # floats read out of tensors that require grad, watched for as operands
# ops that take a Python number as an operand (`t + f`, `f * t`, `torch.clamp(t, max=f)`)
OPERAND_OPS = frozenset({"add", "sub", "mul", "div", "true_divide", "pow", "rsub", "__radd__", "__rmul__", "__rsub__",
                         "__rdiv__", "__rtruediv__", "__rpow__", "add_", "sub_", "mul_", "div_", "clamp", "clip",
                         "maximum", "minimum", "where", "lerp", "addcmul", "addcdiv"})
_DETACH_OPS = frozenset({"detach", "detach_", "Tensor.data"})
# Ops whose result is not data flowing on from their input: freezing, reading a gradient.
_NOT_CUTS = frozenset({"requires_grad_", "Tensor.requires_grad=", "Tensor.grad", "Tensor.grad=", "retain_grad"})
# Ops that copy values out of the graph into a new tensor.
_COPY_OPS = frozenset({"tensor", "as_tensor", "asarray", "from_numpy", "Tensor.new_tensor", "new_tensor"})


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
        self.cut_sites: dict[tuple, dict] = {}
        self.cut_walked: dict[int, set] = {}  # id(site) -> graph nodes already walked for it
        self.escaped: dict[int, tuple] = {}  # id(float) -> (the float, its escape event), oldest first

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
        """A scalar with a graph bound to a name may be a loss too (a hand-written regulariser): watch
        whether a backward reaches it. Decided from the value, never from the name."""
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
                site.params = self._params_reached(t.grad_fn, "loss", site.file, site.line)

    def _params_reached(self, fn, kind, file, line) -> list:
        """The parameters (trainable leaves) a graph reaches, walking at most MAX_WALK of its nodes; a walk
        stopped by that cap is counted in the capture's `dropped` (the list may miss some)."""
        found = []
        capped = functools.partial(self.recorder.drops.note, "reaches", MAX_WALK, kind=kind, file=file, line=line)
        for node in nodes_from([fn], MAX_WALK, on_cap=capped):
            variable = getattr(node, "variable", None) if type(node).__name__ == "AccumulateGrad" else None
            if variable is not None:
                found.append(self.recorder.record_for(variable))
        return found

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
                        "reaches": self._params_reached(inputs[0].grad_fn, "cut_params", file, line)})

    @_guarded
    def on_cut(self, op, inputs, in_rg, outputs, file, line, grad_mode, off_by) -> None:
        """An op made tensors that do not require grad from inputs that do: one `cut` event per site
        (line, op), with why (see `analyse/findings/frontier.py`) and the trainable leaves upstream."""
        if op in _NOT_CUTS:
            return
        lookup = self.recorder.lookup
        cut_recs = [lookup(t) for t in outputs if not t.requires_grad]
        if not cut_recs or cut_recs[0] is None:
            return
        if op in _DETACH_OPS:
            why = "detach"
        elif torch.is_inference_mode_enabled():
            why = "inference"
        elif not grad_mode:
            why = "no_grad" if off_by is not None and off_by[0] else "library"
        elif op in _COPY_OPS:
            why = "copy"
        elif op == "autograd.grad":
            why = "grad"  # gradients returned without create_graph=True: no graph of their own
        else:
            why = "nondiff"
        site = self._cut_site(op, why, file, line, cut_recs[0])
        if site is None:
            return
        if why == "no_grad":
            site.setdefault("off_line", off_by[2])  # the `with` line, the set_grad_enabled call, the call
            if len(off_by) > 4 and off_by[4] is not None:
                site.setdefault("def_line", off_by[4])  # of a function decorated with @torch.no_grad()
        if why == "library" and "api" not in site:
            site["api"], site["twin"] = self._library_api()
        self._note_reaches(site, [t for t, rg in zip(inputs, in_rg) if rg])

    @_guarded
    def on_data_assign(self, op, target, value, file, line) -> None:
        """`t.data = expr` where expr carries gradient: its values are copied into t and its graph is
        dropped, a cut as `detach()` is (the tensor it cut from is expr, which no vertex shows)."""
        site = self._cut_site(op, "detach", file, line, self.recorder.record_for(target, file, line))
        if site is not None:
            self._note_reaches(site, [value])

    @_guarded
    def on_value_read(self, op, t, file, line) -> None:
        """`.item()` / `.tolist()` / `float()` of a tensor that requires grad: the value leaves the graph."""
        site = self._cut_site(op, "value", file, line, self.recorder.record_for(t, file, line))
        if site is not None:
            self._note_reaches(site, [t])

    @_guarded
    def on_api_result(self, api, out, file, line) -> None:
        """A tensor made inside a distribution's `log_prob` (the last one made is what it returned)."""
        if isinstance(out, _Tensor) and out.requires_grad:
            rec = self.recorder.lookup(out)
            if rec is not None:
                self.recorder.note_event({"kind": "api_result", "api": api, "file": file, "line": line,
                                          "tensor": rec})

    def _cut_site(self, op, why, file, line, rec):
        key = (file, line, op, why)
        site = self.cut_sites.get(key)
        if site is None:
            if len(self.cut_sites) >= MAX_CUT_SITES:
                self.recorder.drops.note("cut_sites", MAX_CUT_SITES, file=file, line=line, by_line=False)
                return None
            site = self.cut_sites[key] = {"kind": "cut", "cut": why, "op": op, "file": file, "line": line,
                                          "tensor": rec, "reaches": [], "calls": 0}
            self.recorder.note_event(site)
        site["calls"] += 1
        return site

    def _note_reaches(self, site, sources) -> None:
        """Add the trainable leaves behind `sources`; each graph node is walked once per site, and at
        most MAX_WALK nodes per site in all (a loop's later steps add only what is new)."""
        reaches = site["reaches"]
        seen = self.cut_walked.setdefault(id(site), set())
        for t in sources:
            while t.grad_fn is None and t._base is not None:
                t = t._base  # a view made under no_grad has no grad_fn of its own (Normal.sample's expand)
            if t.grad_fn is None:
                rec = self.recorder.record_for(t)
                if rec not in reaches:
                    reaches.append(rec)
                continue
            # more of the graph than the cap: the leaves behind it are not all known, and that is counted
            capped = functools.partial(self.recorder.drops.note, "reaches", MAX_WALK, kind="cut", file=site["file"],
                                       line=site["line"])
            for node in nodes_from([t.grad_fn], max(MAX_WALK - len(seen), 0), skip=seen, on_cap=capped):
                seen.add(node_key(node))
                variable = getattr(node, "variable", None) if type(node).__name__ == "AccumulateGrad" else None
                if variable is not None:
                    rec = self.recorder.record_for(variable)
                    if rec not in reaches:
                        reaches.append(rec)

    def _library_api(self):
        """The library function the user's code called (`Normal.sample`), and its differentiable twin."""
        is_user = self.recorder.user_files.is_user_code
        f, called = sys._getframe(2), None
        while f is not None and not is_user(f.f_code):
            f, called = f.f_back, f
        if f is None or called is None:
            return None, None
        code = called.f_code
        owner = called.f_locals.get("self") if code.co_argcount and code.co_varnames[0] == "self" else None
        twin = "rsample" if code.co_name == "sample" and getattr(owner, "has_rsample", False) is True else None
        return getattr(code, "co_qualname", code.co_name), twin

    # -- in-place ops --------------------------------------------------------------------------
    @_guarded
    def on_mutation(self, op, rec, t, file, line) -> None:
        if t.is_nested:
            return  # a nested tensor's storage is its components': no pointer to log it by
        ptr = t.untyped_storage().data_ptr()
        if not ptr:
            return
        entry = (op, rec, file, line, self.recorder.registry.next_id)
        if len(self.mutations) > MAX_MUTATIONS:  # older in-place changes are forgotten: counted
            self.recorder.drops.note("mutations", MAX_MUTATIONS, count=len(self.mutations), file=file, line=line,
                                     by_line=False)
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
        elif tensors and ("leaf Variable that requires grad" in message or "numpy() on Tensor" in message):
            event["tensor"] = rec.record_for(tensors[0], event["file"], event["line"])
            base = tensors[0]._base
            if base is not None:
                event["base"] = rec.record_for(base, event["file"], event["line"])

    # -- values leaving the graph, failed backward calls ----------------------------------------
    @_guarded
    def on_escape(self, op, t, value=None) -> None:
        """`.item()` / `.tolist()` / `.numpy()` / `float()` of a tensor that carries gradient (or of its
        detached copy): the values leave autograd here. Stamped with the backward calls so far, so a
        backward that finds no graph can cite the escapes since the previous backward call. A float
        read from a tensor that requires grad is remembered (the object itself, the latest
        ESCAPED_MAX of them) to see it come back as an operand (`on_operands`)."""
        rec = self.recorder
        source = rec.lookup(t)
        requires_grad = t.requires_grad
        if not requires_grad:
            if source is None or source.detached_from is None or not source.detached_from.requires_grad:
                return
            source = source.detached_from
        file, line = rec.where(2)
        event = {"kind": "escape", "op": op, "file": file, "line": line,
                 "tensor": source if source is not None else rec.record_for(t, file, line),
                 "backward_calls": rec.backward_count}
        rec.note_event(event)
        if requires_grad and type(value) is float:
            escaped = self.escaped
            escaped[id(value)] = (value, event)
            if len(escaped) > ESCAPED_MAX:
                del escaped[next(iter(escaped))]

    @_guarded
    def on_operands(self, op, args, kwargs, out, file, line) -> None:
        """An arithmetic op got, as an operand, a float read out of a tensor that requires grad
        (`loss + float(p)`): autograd sees a constant, and no gradient flows back to `p` through it."""
        for value in (*args, *kwargs.values()) if kwargs else args:
            if type(value) is not float:
                continue
            entry = self.escaped.get(id(value))
            if entry is not None and entry[0] is value and isinstance(out, _Tensor):
                read = entry[1]
                self.recorder.note_event({"kind": "value_fed", "op": op, "file": file, "line": line,
                                          "read_op": read["op"], "read_file": read["file"], "read_line": read["line"],
                                          "tensor": read["tensor"],
                                          "out": self.recorder.record_for(out, file, line)})
                return

    @_guarded
    def on_backward_error(self, exc, roots, file, line) -> None:
        """A custom Function's backward returned the wrong gradients: note where its backward is."""
        match = _CUSTOM_BACKWARD.search(str(exc))
        if match is None:
            return
        name = match.group(1)
        fns = [t.grad_fn for t in roots if t.grad_fn is not None]
        capped = functools.partial(self.recorder.drops.note, "reaches", MAX_WALK, kind="custom_backward",
                                   file=file, line=line)
        for fn in nodes_from(fns, MAX_WALK, on_cap=capped):
            if type(fn).__name__ != name:
                continue
            cls = getattr(fn, "_forward_cls", None)
            backward = getattr(cls, "backward", None)
            code = getattr(backward, "__code__", None)
            if code is None or not self.recorder.user_files.is_user_code(code):
                return
            event = node_event(fn, self.recorder.note_failure)
            self.recorder.note_event({"kind": "custom_backward", "node": name, "file": code.co_filename,
                                      "line": code.co_firstlineno, "returns": _return_lines(backward),
                                      "apply_line": event.line if event is not None else None})
            return

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
        if frame.f_code.co_filename != _CHECKPOINT_FILE:
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
                site.params = self._params_reached(t.grad_fn, "loss", site.file, site.line)
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
        capped = functools.partial(self.recorder.drops.note, "reaches", MAX_WALK, kind="pending")
        for fn in nodes_from(roots, MAX_WALK, skip=set(graph.nodes), on_cap=capped):  # a snapshot's nodes are checked
            name = type(fn).__name__
            if name == "AccumulateGrad":
                continue
            names = graph.saved_names(fn)
            pending = _PendingNode(name, node_event(fn, self.recorder.note_failure))
            if names and not graph.unpack_would_call_hooks(pending.event):
                self.on_node(fn, pending, names, pending=True)


_CUSTOM_BACKWARD = re.compile(r"[Ff]unction (\w+) returned an (?:incorrect number of gradients|invalid gradient)")


def _return_lines(func) -> list[int]:
    """The lines of the `return` statements of `func` (not of functions nested in it)."""
    try:
        lines, first = inspect.getsourcelines(func)
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except (OSError, TypeError, SyntaxError):
        return []
    body = tree.body[0] if tree.body else None
    found = []
    stack = list(getattr(body, "body", []))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Return):
            found.append(first + node.lineno - 1)
        elif not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            stack.extend(ast.iter_child_nodes(node))
    return sorted(found)


# What common saved names stand for, when the saved tensor itself is no longer alive to compare.
_SAVED_POSITIONS = {"result": ("out", 0), "self": ("in", 0), "other": ("in", 1), "input": ("in", 0)}


class _PendingNode:
    __slots__ = ("name", "event")

    def __init__(self, name, event):
        self.name = name
        self.event = event
