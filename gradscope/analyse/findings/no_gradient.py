"""GS2xx: trainable tensors that never got a gradient (GS201-204), and cuts that are
probably meant (GS205 frozen parameters, GS206 detach into parameters trained elsewhere)."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, listed, plural, quoted, unique
from gradscope.analyse.findings.frontier import explain_never
from gradscope.analyse.findings.optimizer import misdirected_optimizers
from gradscope.capture import CheckpointEvent, CutParamsEvent, ReplacedEvent, TensorInfo, UnusedLossEvent


def reach_of(ctx: Context) -> _Reach:
    """The reach of the capture's roots, built once per Context (param_statuses uses it too)."""
    return ctx.once(_Reach)


def trainable_without_grad(ctx: Context) -> list[Finding]:
    capture = ctx.capture
    if capture.backward_calls == 0 or not any(r.call not in ("implicit", "selected") for r in capture.roots):
        return []
    if any(r.raised for r in capture.roots):
        return []  # the failed backward is the finding; missing gradients follow from it
    in_optimizer = ctx.optimizer_params()
    top_with_grad = {_top(t.param_name) for t in ctx.tensors.values()
                     if t.kind == "parameter" and t.param_name and ctx.got_grad(t)}
    reach = reach_of(ctx)
    groups: dict[tuple, list[TensorInfo]] = {}
    reasons: dict[tuple, tuple] = {}
    # with --step some backward calls were not recorded: then only a .grad still None at exit counts
    unrecorded = capture.backward_calls > sum(r.calls for r in capture.roots if r.step is not None)
    # GS804 says what became of replaced parameters, GS805 why an optimizer's tensors never get gradient
    left_model = {p for e in ctx.of_kind(ReplacedEvent) for p in e.old}
    left_model.update(t.id for _, held, _ in misdirected_optimizers(ctx) for t in held)
    for t in ctx.tensors.values():
        if not ctx.watched(t) or ctx.got_grad(t) or (unrecorded and t.grad_is_none is not True):
            continue
        if t.id in left_model:
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
            code, "info" if on_purpose else "warning", f"{listed(names)} never got a gradient",
            unique([*(line if isinstance(line, list) else [line]), *(t.line for t in members),
                    *ctx.backward_lines()]), names,
            f".grad of {listed(names, 8)}{extra} stayed None through every recorded backward: {why}.{rebound}",
            fix))
    return out


def intended_cuts(ctx: Context) -> list[Finding]:
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
            unique(ctx.freeze_line(t) for t in frozen), names,
            f"{listed(names)} {plural(names, 'does', 'do')} not require grad (frozen), so backward leaves "
            f".grad None and no optimizer holds {plural(names, 'it', 'them')}.",
            "nothing to do if they are meant to stay fixed; requires_grad_(True) (and add them to an "
            "optimizer) to train them"))
    for event in ctx.of_kind(CutParamsEvent):
        params = sorted((ctx.tensors[i] for i in event.reaches if i in ctx.tensors), key=lambda t: t.id)
        trained = [t for t in params if t.kind == "parameter" and ctx.got_grad(t)]
        if not trained or len(trained) < len([t for t in params if t.kind == "parameter"]):
            continue  # parameters left without any gradient are GS203's business
        line, op = event.line, event.op
        verb = ".data" if op == "Tensor.data" else f"{op}()"
        names = [ctx.label(t) for t in trained]
        out.append(Finding(
            "GS206", "info", f"{verb} at line {line} stops gradient into {len(trained)} parameter(s)",
            [line], names,
            f"{verb} at line {line} cuts {quoted(ctx.short(event.tensor))} from the graph that made it: "
            f"losses computed from the detached value do not reach {listed(names)}, which still get gradients "
            "through other paths or backward calls (as in truncated BPTT, or a GAN's discriminator step).",
            "nothing to do if intended; remove the detach() where gradient should flow back"))
    return out


def _top(param_name: str | None) -> str | None:
    return param_name.split(".", 1)[0] if param_name else None


def _rebound_note(ctx: Context, members: list[TensorInfo]) -> str:
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

    def __init__(self, ctx: Context):
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
        self.checkpoints = [e for e in ctx.of_kind(CheckpointEvent) if not e.inputs_require_grad]

    def explain(self, t: TensorInfo):
        ctx = self.ctx
        vid = t.vid
        if vid in self.free:
            return ("GS203", "graph", None, "it is in the graph of a backward call but received nothing",
                    "check hooks or custom Functions that return None for it")
        cuts = self.cuts.get(vid)
        real = [c for c in cuts or () if c.cut in _EXPLAINS]
        if cuts and not real and self.checkpoints:
            cp = self.checkpoints[0]
            return ("GS204", ("checkpoint", cp.line), cp.line,
                    f"torch.utils.checkpoint at line {cp.line} (reentrant) received no input that "
                    "requires grad, so it recorded no graph for the layers inside it",
                    "pass use_reentrant=False, or make one input require grad (e.g. x.requires_grad_()) "
                    "before calling checkpoint")
        frontier = explain_never(ctx, t, values=False)
        if frontier is not None:
            return frontier
        if cuts:
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
        for event in ctx.of_kind(CutParamsEvent):
            if t.id in event.reaches:
                line, op = event.line, event.op
                verb = ".data" if op == "Tensor.data" else f"{op}()"
                return ("GS203", ("cut", line, verb), line,
                        f"every path from the loss to them is cut: {quoted(ctx.short(event.tensor))} was "
                        f"detached by {verb} at line {line}",
                        f"remove the {verb} on line {line} if these should train (or freeze them and leave "
                        "them out of the optimizer if not)")
        for event in ctx.of_kind(UnusedLossEvent):
            if t.id in event.reaches:
                line = event.line
                name = ctx.short(event.tensor)
                return ("GS202", ("aux", line), line,
                        f"they only feed {quoted(name)} (line {line}), which was computed but never backpropagated",
                        f"add it to the loss you call backward() on (e.g. total = main_loss + weight * {name})")
        frontier = explain_never(ctx, t, values=True)
        if frontier is not None:
            return frontier
        module = ctx.module_of(t.id) if t.kind == "parameter" else None
        if module is not None and not module.get("called", True):
            return ("GS201", ("module", module["name"]), t.line,
                    f"module `{module['name']}` ({module['type']}) is never called in forward",
                    f"call {module['name']} in forward(), or delete it (and keep it out of the optimizer)")
        return ("GS201", ("unreached", None), t.line,
                "no backward call's graph reaches them (their results never feed the loss)",
                "use their output in the loss, or leave them out of the model and the optimizer")
