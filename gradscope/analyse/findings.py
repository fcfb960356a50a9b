"""Findings: plain-words claims about what autograd did in the script, with the lines to blame.

Pure functions over a `Capture` (no torch). One function per family; `find_all` runs them all.
Codes are stable (documented in the README): GS1xx backward without a graph, GS2xx trainable
tensors without a gradient, GS3xx `.grad` of non-leaves, GS4xx integer tensors, GS5xx in-place
changes to saved tensors, GS6xx inference tensors, GS7xx loss targets, GS8xx the optimizer audit.
Severity: `error` (raises, or silently wrong gradients), `warning` (gradient almost certainly not
where it was meant to go), `info` (often intended; worth knowing). No error or warning may fire on
a correct script: when the facts are not conclusive, say nothing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from gradscope.analyse.graph import GraphView, tensor_label
from gradscope.analyse.labels import cut_reason
from gradscope.capture import Capture, TensorInfo

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
MAX_PATHS = 20  # paths listed per root by `explain --tensor`
PATH_BUDGET = 200_000  # path steps explored per root, so diamond-rich graphs stay fast


@dataclass
class Finding:
    code: str
    severity: str
    title: str
    lines: list[int] = field(default_factory=list)  # culprit first
    tensors: list[str] = field(default_factory=list)
    message: str = ""
    fix: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def find_all(capture: Capture) -> list[Finding]:
    ctx = _Context(capture)
    found: list[Finding] = []
    for family in FAMILIES:
        found.extend(family(ctx))
    found.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), f.lines[0] if f.lines else 0, f.code))
    return found


class _Context:
    """The capture plus the lookups every family needs, computed once."""

    def __init__(self, capture: Capture):
        self.capture = capture
        self.view = GraphView(capture)
        self.tensors = self.view.tensors
        self.events = capture.events

    def name(self, tid: int | None) -> str:
        t = self.tensors.get(tid) if tid is not None else None
        return self.label(t) if t is not None else "a tensor"

    def label(self, t: TensorInfo) -> str:
        return tensor_label(t)

    def code(self, tid: int | None) -> str:
        """For prose: "`gate` (in Block.forward)", "`model.w`", or "the output of `op`"."""
        t = self.tensors.get(tid) if tid is not None else None
        if t is not None and t.name and not t.param_name and t.scope:
            return f"`{t.name}` (in {t.scope})"
        return _code(self.short(tid))

    def short(self, tid: int | None) -> str:
        """A name to put in code: the variable, else "the output of `op`"."""
        t = self.tensors.get(tid) if tid is not None else None
        if t is None:
            return "a tensor"
        if t.param_name or t.name:
            return t.param_name or t.name
        return f"the output of `{t.op}`" if t.op else "a tensor"

    def of_kind(self, kind: str) -> list[dict]:
        return [e for e in self.events if e.get("kind") == kind]

    def got_grad(self, t: TensorInfo) -> bool:
        return any(g is True for g in t.grads) or t.grad_is_none is False

    def watched(self, t: TensorInfo) -> bool:
        """Some recorded backward could have given it a gradient (it was a live leaf requiring grad)."""
        return any(g is not None for g in t.grads) or t.grad_is_none is True

    def freeze_line(self, t: TensorInfo) -> int | None:
        """The line that set requires_grad to False on `t` (else where it was made)."""
        for e in self.events:
            if e.get("tensor") == t.id and e.get("op") in ("requires_grad_", "Tensor.requires_grad="):
                return e.get("line")
        return t.line

    def optimizer_params(self) -> set[int]:
        return {p for opt in self.capture.optimizers for p in opt.get("params", [])}

    def module_of(self, tid: int) -> dict | None:
        for module in self.capture.modules:
            if tid in module.get("params", []):
                return module
        return None

    def backward_lines(self) -> list[int]:
        return _unique(r.line for r in self.capture.roots if r.call not in ("implicit", "selected"))


def _unique(values) -> list:
    out = []
    for v in values:
        if v is not None and v not in out:
            out.append(v)
    return out


def _code(name: str) -> str:
    return name if name.startswith("the output of") else f"`{name}`"


def _plural(names: list, one: str, many: str) -> str:
    return one if len(names) == 1 else many


def _names(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# -- GS101: backward on a tensor without grad_fn ----------------------------------------------------

_NO_GRAPH = "does not require grad and does not have a grad_fn"


def backward_without_graph(ctx: _Context) -> list[Finding]:
    out = []
    for root in ctx.capture.roots:
        if not root.raised or _NO_GRAPH not in root.raised:
            continue
        t = ctx.tensors[root.tensor]
        name = ctx.label(t)
        why, culprit, fix = _why_no_graph(ctx, t)
        lines = _unique([culprit, t.line, root.line])
        out.append(Finding(
            "GS101", "error", f"backward() on `{name}`, which has no grad_fn",
            lines, [name],
            f"`{name}` (line {t.line}) does not require grad, so backward() at line {root.line} has no graph "
            f"to walk: it was {why}. PyTorch raised: {root.raised}",
            fix))
    exc = ctx.capture.exit.get("exception") or {}
    if not out and _NO_GRAPH in (exc.get("message") or ""):
        # a later call of a backward line (only the first is snapshotted): say what is known
        out.append(Finding(
            "GS101", "error", "backward() on a tensor that has no grad_fn", _unique([exc.get("line")]), [],
            f"backward() at line {exc.get('line')} was called on a tensor that does not require grad "
            "(detached, computed under torch.no_grad(), or from constants and frozen parameters only). "
            f"Run `gradscope explain --step {ctx.capture.backward_calls} SCRIPT` (the failing call) to see which.",
            "backpropagate from a tensor computed with gradient tracking from tensors that require grad"))
    return out


def _why_no_graph(ctx: _Context, t: TensorInfo) -> tuple[str, int | None, str]:
    if t.kind == "no_grad":
        return (f"computed with gradient tracking off (torch.no_grad() active from line {t.cut_line}, "
                "as a block or as a @torch.no_grad() function called there)", t.cut_line,
                "compute it outside torch.no_grad() (or remove the @torch.no_grad() decorator from the "
                "function that computes it) when you mean to backpropagate through it")
    if t.kind == "detached":
        verb = ".data" if t.cut_op == "Tensor.data" else f"{t.cut_op}()"
        return (f"cut from its graph by {verb} at line {t.cut_line}", t.cut_line,
                f"backpropagate from the tensor before {verb}, or drop the {verb} if gradient should flow")
    if t.kind == "inference":
        return (f"made under torch.inference_mode() (line {t.cut_line})", t.cut_line,
                "compute it outside inference_mode, or use torch.no_grad() and clone() where gradient is needed")
    if t.kind == "nondiff":
        return (f"made by `{t.op}`, which is not differentiable", t.line,
                "backpropagate from a differentiable quantity (e.g. the logits or a loss), not from this result")
    if t.op and t.inputs_required_grad is False and t.grad_fn is None and t.op not in _FACTORIES:
        cut, frozen = _upstream(ctx, t)
        if cut is not None:
            why, line, fix = _why_no_graph(ctx, cut)
            return (f"computed from `{ctx.label(cut)}` (line {cut.line}), which was {why}", line, fix)
        if frozen:
            names = [ctx.label(p) for p in frozen]
            return (f"computed only from constants and frozen parameters ({_names(names)}, requires_grad=False)",
                    ctx.freeze_line(frozen[0]), "unfreeze the parameters that should train (requires_grad_(True)) before "
                                    "the forward pass")
        return (f"computed (by `{t.op}`) only from tensors that do not require grad", t.line,
                "make the inputs that should be trained require grad (requires_grad=True) before computing it")
    return ("created with requires_grad=False", t.line,
            f"create it with requires_grad=True (or call .requires_grad_()) if you need its gradient, or call "
            f"backward() on a result computed from tensors that require grad")


def _upstream(ctx: _Context, t: TensorInfo):
    """The nearest detached / no_grad / inference tensor that `t` was computed from, and the frozen
    parameters among its inputs' ancestry."""
    frozen, seen, queue = [], {t.vid}, [t.vid]
    while queue:
        vid = queue.pop(0)
        for edge in ctx.view.inputs.get(vid, []):
            if edge.src in seen:
                continue
            seen.add(edge.src)
            src = ctx.view.tensor_of(edge.src)
            if src is not None and src.kind in ("detached", "no_grad", "inference"):
                return src, frozen
            if src is not None and src.kind == "frozen":
                frozen.append(src)
            queue.append(edge.src)
    return None, frozen


_FACTORIES = frozenset({"tensor", "as_tensor", "ones", "zeros", "randn", "rand", "empty", "full", "arange",
                        "linspace", "randint", "ones_like", "zeros_like", "randn_like", "rand_like", "eye"})


# -- GS2xx: trainable tensors that never got a gradient ------------------------------------------


def trainable_without_grad(ctx: _Context) -> list[Finding]:
    capture = ctx.capture
    if capture.backward_calls == 0 or not any(r.call not in ("implicit", "selected") for r in capture.roots):
        return []
    if any(r.raised for r in capture.roots):
        return []  # the failed backward is the finding; missing gradients follow from it
    in_optimizer = ctx.optimizer_params()
    top_with_grad = {_top(t.param_name) for t in ctx.tensors.values()
                     if t.kind == "parameter" and t.param_name and ctx.got_grad(t)}
    reach = _Reach(ctx)
    groups: dict[tuple, list[TensorInfo]] = {}
    reasons: dict[tuple, tuple] = {}
    # with --step some backward calls were not recorded: then only a .grad still None at exit counts
    unrecorded = capture.backward_calls > sum(r.calls for r in capture.roots if r.step is not None)
    for t in ctx.tensors.values():
        if not ctx.watched(t) or ctx.got_grad(t) or (unrecorded and t.grad_is_none is not True):
            continue
        if t.kind == "parameter":
            if t.id not in in_optimizer and _top(t.param_name) not in top_with_grad:
                continue  # not meant to be trained here (a teacher, a target network): see GS802
        elif t.kind != "leaf" or t.is_parameter:
            continue
        code, key, line, why, fix = reach.explain(t)
        groups.setdefault((code, key), []).append(t)
        reasons[(code, key)] = (line, why, fix)
    out = []
    for (code, key), members in groups.items():
        line, why, fix = reasons[(code, key)]
        names = [ctx.label(t) for t in members]
        held = [t for t in members if t.id in in_optimizer]
        extra = " (held by an optimizer, which skips parameters whose .grad is None)" if held else ""
        rebound = _rebound_note(ctx, members)
        # a plain leaf outside any optimizer, cut by the script's own detach()/no_grad: often on purpose
        on_purpose = code == "GS203" and key[0] == "cut" and not held and all(t.kind == "leaf" for t in members)
        out.append(Finding(
            code, "info" if on_purpose else "warning", f"{_names(names)} never got a gradient",
            _unique([line, *(t.line for t in members), *ctx.backward_lines()]), names,
            f".grad of {_names(names, 8)}{extra} stayed None through every recorded backward: {why}.{rebound}",
            fix))
    return out


def intended_cuts(ctx: _Context) -> list[Finding]:
    """Info: frozen parameters outside any optimizer, and detach() lines that stop gradient into
    parameters which still get it elsewhere (truncated BPTT, the discriminator step of a GAN)."""
    capture = ctx.capture
    if capture.backward_calls == 0 or any(r.raised for r in capture.roots):
        return []
    out = []
    held = ctx.optimizer_params()
    frozen = [t for t in ctx.tensors.values() if t.kind == "frozen" and t.id not in held]
    if frozen:
        names = [ctx.label(t) for t in frozen]
        out.append(Finding(
            "GS205", "info", f"{len(frozen)} frozen parameter(s) get no gradient",
            _unique(ctx.freeze_line(t) for t in frozen), names,
            f"{_names(names)} {_plural(names, 'does', 'do')} not require grad (frozen), so backward leaves "
            f".grad None and no optimizer holds {_plural(names, 'it', 'them')}.",
            "nothing to do if they are meant to stay fixed; requires_grad_(True) (and add them to an "
            "optimizer) to train them"))
    for event in ctx.of_kind("cut_params"):
        params = sorted((ctx.tensors[i] for i in event.get("reaches", []) if i in ctx.tensors), key=lambda t: t.id)
        trained = [t for t in params if t.kind == "parameter" and ctx.got_grad(t)]
        if not trained or len(trained) < len([t for t in params if t.kind == "parameter"]):
            continue  # parameters left without any gradient are GS203's business
        line, op = event.get("line"), event.get("op")
        verb = ".data" if op == "Tensor.data" else f"{op}()"
        names = [ctx.label(t) for t in trained]
        out.append(Finding(
            "GS206", "info", f"{verb} at line {line} stops gradient into {len(trained)} parameter(s)",
            [line], names,
            f"{verb} at line {line} cuts {_code(ctx.short(event.get('tensor')))} from the graph that made it: "
            f"losses computed from the detached value do not reach {_names(names)}, which still get gradients "
            "through other paths or backward calls (as in truncated BPTT, or a GAN's discriminator step).",
            "nothing to do if intended; remove the detach() where gradient should flow back"))
    return out


def _top(param_name: str | None) -> str | None:
    return param_name.split(".", 1)[0] if param_name else None


def _rebound_note(ctx: _Context, members: list[TensorInfo]) -> str:
    notes = []
    for t in members:
        if t.name and t.name in ctx.view.rebinds:
            later = [o for o in ctx.tensors.values() if o.name == t.name and o.id != t.id and o.line]
            if later:
                notes.append(f" (`{t.name}` was rebound at line {later[-1].line}: the name now refers to "
                             f"another tensor; this is the leaf created at line {t.line}.)")
    return "".join(notes)


_EXPLAINS = ("detached", "no_grad", "inference")


class _Reach:
    """How each vertex is reached from the roots: through flowing edges only, or only across cuts."""

    def __init__(self, ctx: _Context):
        self.ctx = ctx
        self.free: set[str] = set()
        self.cuts: dict[str, list] = {}  # vertex -> first cut edges met on the way from a root
        view = ctx.view
        stack = [(vid, None) for vid in view.root_vids()]
        seen: set[tuple] = set()
        while stack:
            vid, cut = stack.pop()
            key = (vid, id(cut) if cut is not None else None)
            if key in seen or (cut is not None and len(self.cuts.get(vid, [])) > 8):
                continue
            seen.add(key)
            if cut is None:
                if vid in self.free:
                    continue
                self.free.add(vid)
            else:
                bucket = self.cuts.setdefault(vid, [])
                if all(c is not cut for c in bucket):
                    bucket.append(cut)
            for edge in view.inputs.get(vid, []):
                nxt = cut
                if not edge.flows_grad and (cut is None or (cut.cut not in _EXPLAINS and edge.cut in _EXPLAINS)):
                    nxt = edge  # keep the cut that says why: a detach beats the constant made from it
                stack.append((edge.src, nxt))
        self.checkpoints = [e for e in ctx.of_kind("checkpoint") if not e.get("inputs_require_grad")]

    def explain(self, t: TensorInfo):
        ctx = self.ctx
        vid = t.vid
        if vid in self.free:
            return ("GS203", "graph", None, "it is in the graph of a backward call but received nothing",
                    "check hooks or custom Functions that return None for it")
        cuts = self.cuts.get(vid)
        if cuts:
            real = [c for c in cuts if c.cut in _EXPLAINS]
            if not real and self.checkpoints:
                cp = self.checkpoints[0]
                return ("GS204", ("checkpoint", cp.get("line")), cp.get("line"),
                        f"torch.utils.checkpoint at line {cp.get('line')} (reentrant) received no input that "
                        "requires grad, so it recorded no graph for the layers inside it",
                        "pass use_reentrant=False, or make one input require grad (e.g. x.requires_grad_()) "
                        "before calling checkpoint")
            chosen = real[0] if real else cuts[0]
            reason = chosen.reason or "an input that does not require grad"
            how = {"detached": "detached", "no_grad": "computed under torch.no_grad()",
                   "inference": "computed under torch.inference_mode()"}.get(chosen.cut, "cut")
            fix = {"detached": "remove the detach() / .data on that line if these should train (or freeze "
                               "them and leave them out of the optimizer if not)",
                   "no_grad": "move that computation out of torch.no_grad() if these should train"}.get(
                chosen.cut, "make sure the path from the loss to these tensors carries gradient")
            return ("GS203", ("cut", chosen.line, chosen.reason), chosen.line,
                    f"every path from the loss to them is cut: {how} ({reason})", fix)
        for event in ctx.of_kind("cut_params"):
            if t.id in event.get("reaches", []):
                line, op = event.get("line"), event.get("op")
                verb = ".data" if op == "Tensor.data" else f"{op}()"
                return ("GS203", ("cut", line, verb), line,
                        f"every path from the loss to them is cut: {_code(ctx.short(event.get('tensor')))} was "
                        f"detached by {verb} at line {line}",
                        f"remove the {verb} on line {line} if these should train (or freeze them and leave "
                        "them out of the optimizer if not)")
        for event in ctx.of_kind("unused_loss"):
            if t.id in event.get("reaches", []):
                line = event.get("line")
                name = ctx.short(event.get("tensor"))
                return ("GS202", ("aux", line), line,
                        f"they only feed {_code(name)} (line {line}), which was computed but never backpropagated",
                        f"add it to the loss you call backward() on (e.g. total = main_loss + weight * {name})")
        module = ctx.module_of(t.id) if t.kind == "parameter" else None
        if module is not None and not module.get("called", True):
            return ("GS201", ("module", module["name"]), t.line,
                    f"module `{module['name']}` ({module['type']}) is never called in forward",
                    f"call {module['name']} in forward(), or delete it (and keep it out of the optimizer)")
        return ("GS201", ("unreached", None), t.line,
                "no backward call's graph reaches them (their results never feed the loss)",
                "use their output in the loss, or leave them out of the model and the optimizer")


# -- GS301/GS302: .grad of non-leaves, late retain_grad ------------------------------------------


def nonleaf_grad(ctx: _Context) -> list[Finding]:
    out = []
    seen = set()
    for event in ctx.of_kind("grad_read"):
        if event.get("retains_grad") or not event.get("grad_none", True) or event.get("line") in seen:
            continue
        seen.add(event.get("line"))
        t = ctx.tensors.get(event.get("tensor"))
        if t is None:
            continue
        name = ctx.label(t)
        leaf = _rebound_leaf(ctx, t)
        if leaf is not None:
            out.append(Finding(
                "GS301", "warning", f"`{name}.grad` read on a non-leaf: `{name}` was rebound at line {t.line}",
                _unique([t.line, event.get("line"), leaf.line]), [name],
                f"line {t.line} rebinds `{name}` to the result of `{t.op}`, a non-leaf, so `{name}.grad` at line "
                f"{event.get('line')} is None (PyTorch warns). The gradient lives on the original leaf "
                f"`{name}` created at line {leaf.line}.",
                f"keep the leaf under its own name (e.g. `{name}_scaled = {name} * ...`) and read the leaf's "
                f".grad, or create it already scaled: torch.randn(...).mul_(...).requires_grad_()"))
        else:
            out.append(Finding(
                "GS301", "warning", f"`{name}.grad` read on a non-leaf tensor",
                _unique([event.get("line"), t.line]), [name],
                f"`{name}` (line {t.line}) is the result of `{t.op or t.grad_fn}`, not a leaf: PyTorch does not "
                f"keep its .grad, so reading it at line {event.get('line')} gives None (with a UserWarning).",
                f"call {name}.retain_grad() before backward(), or read the .grad of the leaf tensors it was "
                "computed from"))
    for event in ctx.of_kind("retain_grad"):
        t = ctx.tensors.get(event.get("tensor"))
        if t is None or not event.get("backward_calls") or event.get("line") in seen:
            continue
        later_none = any(e.get("tensor") == t.id and e.get("grad_none") for e in ctx.of_kind("grad_read"))
        if not (t.grad_is_none is True or (t.grad_is_none is None and later_none)):
            continue
        seen.add(event.get("line"))
        name = ctx.label(t)
        before = [r.line for r in ctx.capture.roots if r.call not in ("implicit", "selected")]
        where = f" at line {before[0]}" if before else ""
        out.append(Finding(
            "GS302", "warning", f"`{name}.retain_grad()` called after backward",
            _unique([event.get("line"), *before]), [name],
            f"retain_grad() at line {event.get('line')} only affects later backward calls; the backward{where} "
            f"already ran, so `{name}.grad` stays None.",
            f"call {name}.retain_grad() right after computing `{name}`, before backward()"))
    return out


def _rebound_leaf(ctx: _Context, t: TensorInfo) -> TensorInfo | None:
    if not t.name or t.name not in ctx.view.rebinds:
        return None
    earlier = [o for o in ctx.tensors.values()
               if o.name == t.name and o.id != t.id and o.kind in ("leaf", "parameter") and (o.line or 0) < (t.line or 0)]
    return earlier[-1] if earlier else None


# -- GS401: requires_grad on an integer tensor ---------------------------------------------------


def integer_requires_grad(ctx: _Context) -> list[Finding]:
    out = []
    for event in ctx.of_kind("error"):
        error = event.get("error", "")
        if "floating point" not in error or "require" not in error:
            continue
        dtype = event.get("dtype") or "an integer dtype"
        line = event.get("line")
        target = ctx.name(event["tensor"]) if event.get("tensor") is not None else None
        subject = f"`{target}`" if target else f"`{event.get('op')}(...)`"
        nearby = ctx.tensors.get(event.get("nearby")) if event.get("nearby") is not None else None
        hint = ""
        tensors = [target] if target else []
        if nearby is not None:
            hint = (f" `{ctx.label(nearby)}` (line {nearby.line}), computed from it by `{nearby.op}`, is "
                    "floating point and differentiable: take the gradient with respect to that instead.")
            tensors.append(ctx.label(nearby))
        how = "requires_grad=True" if event.get("requires_grad_kwarg") else f"{event.get('op')}()"
        out.append(Finding(
            "GS401", "error", f"{how} on {subject} of dtype {dtype}",
            _unique([line, nearby.line if nearby else None]), tensors,
            f"line {line} asks {subject} ({dtype}) to require grad, but only floating point and complex "
            f"tensors can: PyTorch raised {error.split(': ', 1)[-1]!r}.{hint}",
            "make it floating point (.float()) if it is a quantity, or differentiate with respect to the "
            "floating point tensor computed from it (for token ids: the embedding output)"))
    return out


# -- GS501/502/503: in-place changes to tensors saved for backward -------------------------------

_MODIFIED = "modified by an inplace operation"


def inplace_saved(ctx: _Context) -> list[Finding]:
    capture = ctx.capture
    raised = [r for r in capture.roots if r.raised and _MODIFIED in r.raised]
    exc = capture.exit.get("exception") or {}
    if not raised and _MODIFIED in (exc.get("message") or ""):
        raised = [None]
    out = []
    seen = set()
    for event in ctx.of_kind("saved_modified"):
        key = (event.get("line"), event.get("saved_by_line"), event.get("saved_name"))
        mutated = ctx.tensors.get(event.get("tensor"))
        if not raised and mutated is not None and mutated.kind in ("parameter", "frozen", "leaf"):
            continue  # an optimizer step after a forward never meant for backward (validation): fine
        if key in seen:
            continue
        seen.add(key)
        saved, by = _saved_text(ctx, event)
        same = event.get("tensor") is not None and event.get("tensor") == event.get("saved")
        target = "it" if same else ctx.code(event.get("tensor"))
        culprit = (f"`{event.get('op')}` on {target} at line {event.get('line')}"
                   if event.get("line") else "an in-place operation")
        fix = (f"use the out-of-place form (e.g. `{(event.get('op') or 'op_').rstrip('_')}` instead of "
               f"`{event.get('op')}`), or .clone() the tensor before modifying it")
        if raised:
            root = raised[0]
            back = root.line if root is not None else exc.get("line")
            out.append(Finding(
                "GS501", "error", f"{saved} was modified in place after being saved for backward",
                _unique([event.get("line"), event.get("saved_by_line"), back]), _tensor_names(ctx, event),
                f"{saved} was saved for backward{by}, then {culprit} changed it; backward() at line {back} needs the "
                f"original values and raised: {_first_sentence(root.raised if root else exc.get('message', ''))}",
                fix))
        else:
            out.append(Finding(
                "GS502", "warning", f"{saved} was modified in place after being saved: backward through it would fail",
                _unique([event.get("line"), event.get("saved_by_line")]), _tensor_names(ctx, event),
                f"{saved} was saved for backward{by}, then {culprit} changed it. Nothing raised only because no "
                "backward ran through this graph; the same code in a training step raises 'one of the "
                "variables needed for gradient computation has been modified by an inplace operation'.",
                fix + "; or compute it under torch.no_grad() if no gradient is needed"))
    silent: dict[int, list[dict]] = {}
    for event in ctx.of_kind("saved_changed_via_data"):
        silent.setdefault(event.get("line"), []).append(event)
    for line, events in silent.items():
        names = _unique(_data_source(ctx, e) for e in events)
        saved_lines = _unique(e.get("saved_by_line") for e in events)
        ops = _unique(f"`{e.get('saved_by_op')}` (line {e.get('saved_by_line')})" for e in events)
        out.append(Finding(
            "GS503", "error", f"{_names(names)} changed through .data after being saved for backward: silently "
                              "wrong gradient",
            _unique([line, *saved_lines, *ctx.backward_lines()]), names,
            f"{_names(names, 8)} {_plural(names, 'was', 'were')} saved for backward by {', '.join(ops)}, then "
            f"`{events[0].get('op')}` through .data at line {line} changed {_plural(names, 'it', 'them')}. .data hides the change from autograd's version check, "
            "so backward raised nothing and computed the gradient from the new values.",
            "make the change after backward() (e.g. clip weights after optimizer.step()), or inside "
            "torch.no_grad() without .data so that autograd can detect it"))
    return out


def _first_sentence(message: str) -> str:
    """PyTorch's message without its generic hint (anomaly detection), which the finding replaces."""
    message = message.split(" Hint:", 1)[0].strip()
    head, dot, _ = message.partition(". ")
    return head + dot.strip()


def _data_source(ctx: _Context, event: dict) -> str:
    t = ctx.tensors.get(event.get("tensor"))
    source = ctx.tensors.get(t.detached_from) if t is not None and t.detached_from is not None else None
    return ctx.label(source) if source is not None else ctx.name(event.get("tensor"))


def _saved_text(ctx: _Context, event: dict) -> tuple[str, str]:
    """Who was saved ("`gate` (in Block.forward)") and by what (" by `sigmoid` at line 16")."""
    op, line = event.get("saved_by_op"), event.get("saved_by_line")
    what = f"the tensor `{event.get('node')}` saved as `{event.get('saved_name')}`"
    if event.get("saved") is not None:
        what = ctx.code(event["saved"])
    return what, (f" by `{op}` at line {line}" if op else "")


def _tensor_names(ctx: _Context, event: dict) -> list[str]:
    return _unique([ctx.name(event[k]) for k in ("saved", "tensor") if event.get(k) is not None])


# -- GS601: inference tensors in autograd -------------------------------------------------------


def inference_in_autograd(ctx: _Context) -> list[Finding]:
    out = []
    for event in ctx.of_kind("error"):
        error = event.get("error", "")
        if "nference tensor" not in error:
            continue
        tensors = [ctx.tensors[i] for i in event.get("tensors", []) if i in ctx.tensors]
        names = [ctx.label(t) for t in tensors]
        made = _unique(t.cut_line or t.line for t in tensors)
        where = f" (made under torch.inference_mode() at line {', '.join(map(str, made))})" if made else ""
        subject = f"`{_names(names)}`" if names else "an inference tensor"
        out.append(Finding(
            "GS601", "error", f"{subject} from torch.inference_mode() used in autograd",
            _unique([*made, event.get("line")]), names,
            f"{subject}{where} is an inference tensor; `{event.get('op')}` at line {event.get('line')} records "
            f"a graph that needs it, and PyTorch raised: {_first_sentence(error.split(': ', 1)[-1])}",
            "compute it under torch.no_grad() instead of torch.inference_mode(), or use `.clone()` of it "
            "(outside inference_mode) in the computation that needs gradients"))
    return out


# -- GS701: a loss target that carries gradient --------------------------------------------------


def loss_target_grad(ctx: _Context) -> list[Finding]:
    out = []
    seen = set()
    for event in ctx.of_kind("loss_target"):
        if event.get("line") in seen:
            continue
        seen.add(event.get("line"))
        t = ctx.tensors.get(event.get("tensor"))
        name = ctx.label(t) if t is not None else "the target"
        made = t.line if t is not None else None
        out.append(Finding(
            "GS701", "warning", f"the target of `{event.get('op')}` carries gradient",
            _unique([made, event.get("line")]), [name],
            f"`{name}` (made at line {made}) is passed as the target of `{event.get('op')}` at line "
            f"{event.get('line')} and requires grad: backward will also push gradient through the target into "
            "whatever produced it (usually a teacher, a pseudo-label or an EMA model that should stay fixed).",
            f"use `{name}.detach()` as the target, or compute it under torch.no_grad()"))
    return out


# -- GS801/GS802: optimizer audit --------------------------------------------------------------


def optimizer_audit(ctx: _Context) -> list[Finding]:
    capture = ctx.capture
    if not capture.optimizers:
        return []
    out = []
    for opt in capture.optimizers:
        frozen = [ctx.tensors[p] for p in opt.get("params", []) if p in ctx.tensors
                  and ctx.tensors[p].kind == "frozen"]
        if frozen:
            names = [ctx.label(t) for t in frozen]
            out.append(Finding(
                "GS801", "info", f"optimizer `{opt.get('name')}` holds {len(frozen)} frozen parameter(s)",
                _unique(ctx.freeze_line(t) for t in frozen), names,
                f"{_names(names)} {_plural(names, 'does', 'do')} not require grad but {_plural(names, 'was', 'were')} given to `{opt.get('name')}` ({opt.get('type')}); "
                "they get no gradient and are skipped at each step, but still sit in its parameter groups.",
                "build the optimizer from the trainable ones only: "
                "torch.optim.X(filter(lambda p: p.requires_grad, model.parameters()), ...)"))
    held = ctx.optimizer_params()
    outside = [t for t in ctx.tensors.values() if t.kind == "parameter" and t.id not in held]
    if capture.backward_calls and outside:
        trained = [t for t in outside if ctx.got_grad(t)]
        idle = [t for t in outside if not ctx.got_grad(t)]
        if trained:
            names = [ctx.label(t) for t in trained]
            out.append(Finding(
                "GS802", "warning", f"{len(trained)} parameter(s) get gradients but sit in no optimizer",
                _unique(t.line for t in trained), names,
                f"{_names(names)} {_plural(names, 'receives', 'receive')} gradients but no optimizer holds "
                f"{_plural(names, 'it', 'them')}: never updated (a forgotten parameter), or wasted work.",
                "add them to the optimizer, or freeze them (requires_grad_(False)) / compute their part "
                "under torch.no_grad()"))
        if idle:
            names = [ctx.label(t) for t in idle]
            out.append(Finding(
                "GS802", "info", f"{len(idle)} parameter(s) require grad but sit in no optimizer",
                _unique(t.line for t in idle), names,
                f"{_names(names)} {_plural(names, 'requires', 'require')} grad, {_plural(names, 'gets', 'get')} "
                f"none, and no optimizer holds {_plural(names, 'it', 'them')} (e.g. a frozen teacher, a target "
                "network used under no_grad, or a module used only as a template).",
                "call requires_grad_(False) on them to make the intent explicit"))
    return out


FAMILIES = (backward_without_graph, trainable_without_grad, intended_cuts, nonleaf_grad, integer_requires_grad, inplace_saved,
            inference_in_autograd, loss_target_grad, optimizer_audit)


# -- explain --tensor NAME ---------------------------------------------------------------------------


def explain_tensor(capture: Capture, name: str) -> dict:
    """Every path from each root to the tensor(s) called `name`, and where each cut path is cut."""
    ctx = _Context(capture)
    targets = capture.by_name(name)
    result = {"name": name, "tensors": [], "roots": []}
    for t in targets:
        result["tensors"].append({
            "label": f"{ctx.label(t)} (line {t.line})" if t.name in ctx.view.rebinds else ctx.label(t), "kind": t.kind, "line": t.line, "requires_grad": t.requires_grad,
            "is_leaf": t.is_leaf,
            "grad": ("unknown" if not (t.is_leaf and t.requires_grad) else "yes" if ctx.got_grad(t)
                     else "no" if ctx.watched(t) else "unknown"),
            "cut": _cut_text(t)})
    unique: list[dict] = []
    for entry in result["tensors"]:  # the same line in a loop makes one object per iteration
        if entry not in unique:
            unique.append(entry)
    result["tensors"] = [dict(entry, objects=result["tensors"].count(entry)) for entry in unique]
    target_vids = {t.vid for t in targets}
    feeds = _feeders(ctx.view, target_vids)

    def label(vid: str) -> str:
        t = ctx.view.tensor_of(vid)
        text = ctx.view.label(vid)
        return f"{text} (line {t.line})" if t is not None and t.name in ctx.view.rebinds else text

    for root in capture.roots:
        rvid = f"t{root.tensor}"
        paths = _paths(ctx.view, rvid, target_vids, feeds)
        result["roots"].append({
            "root": ctx.name(root.tensor), "line": root.line, "call": root.call,
            "paths": [{"vertices": [label(v) for v in p["vertices"]],
                       "cuts": [{"reason": e.reason or "does not require grad", "line": e.line,
                                 "between": [label(e.src), label(e.dst)]} for e in p["cuts"]]}
                      for p in paths["paths"]],
            "more": paths["more"]})
    return result


def _cut_text(t: TensorInfo) -> str | None:
    if t.kind in ("detached", "no_grad", "inference", "nondiff", "frozen"):
        return cut_reason(t)
    return None


def _feeders(view: GraphView, targets: set[str]) -> set[str]:
    """Vertices from which a target can be reached going towards inputs (the target's consumers, up)."""
    seen = set(targets)
    stack = list(targets)
    while stack:
        vid = stack.pop()
        for edge in view.consumers.get(vid, []):
            if edge.dst not in seen:
                seen.add(edge.dst)
                stack.append(edge.dst)
    return seen


def _paths(view: GraphView, root: str, targets: set[str], feeds: set[str]) -> dict:
    found: list[dict] = []
    more = 0
    if root not in feeds:
        return {"paths": [], "more": 0}
    stack = [(root, [root], [])]
    budget = PATH_BUDGET
    while stack and budget > 0:
        budget -= 1
        vid, path, cuts = stack.pop()
        if vid in targets and len(path) > 1 or (vid in targets and vid == root):
            if len(found) < MAX_PATHS:
                found.append({"vertices": path, "cuts": cuts})
            else:
                more += 1
            continue
        for edge in view.inputs.get(vid, []):
            if edge.src in feeds and edge.src not in path:
                stack.append((edge.src, path + [edge.src], cuts + ([] if edge.flows_grad else [edge])))
    if stack:
        more += len(stack)  # not followed to the end: counted as "more", never silently dropped
    return {"paths": found, "more": more}
