"""GS801-GS806: the optimizer audit (frozen parameters held, trained parameters left out,
parameters that get gradients but that no step changes, a layer replaced after the optimizer was built,
an optimizer built over tensors that never get a gradient while the trained ones sit in none, gradients
cleared between the backward call and the step)."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, listed, plural, unique
from gradscope.capture import ClearedGradsEvent, CutEvent, ReplacedEvent, TensorInfo


def optimizer_audit(ctx: Context) -> list[Finding]:
    capture = ctx.capture
    if not capture.optimizers:
        return []
    replaced = stale_replacements(ctx)
    misdirected = misdirected_optimizers(ctx)
    out = [_replaced_after_optimizer(ctx, *r) for r in replaced]
    out += [_misdirected(ctx, *m) for m in misdirected]
    covered = {t.id for _, _, new, _ in replaced for t in new} | {t.id for *_, trained in misdirected for t in trained}
    for opt in capture.optimizers:
        frozen = [ctx.tensors[p] for p in opt.get("params", []) if p in ctx.tensors
                  and ctx.tensors[p].kind == "frozen"]
        if frozen:
            names = [ctx.label(t) for t in frozen]
            out.append(Finding(
                "GS801", "info", f"optimizer `{opt.get('name')}` holds {len(frozen)} frozen parameter(s)",
                unique(ctx.freeze_line(t) for t in frozen), names,
                f"{listed(names)} {plural(names, 'does', 'do')} not require grad but {plural(names, 'was', 'were')} given to `{opt.get('name')}` ({opt.get('type')}); "
                "they get no gradient and are skipped at each step, but still sit in its parameter groups.",
                "build the optimizer from the trainable ones only: "
                "torch.optim.X(filter(lambda p: p.requires_grad, model.parameters()), ...)"))
    held = ctx.optimizer_params()
    # a parameter that no longer exists (replaced by assignment or by tying, a template layer that
    # nn.TransformerEncoder deep-copied) is nobody's to train
    outside = [t for t in ctx.tensors.values()
               if t.kind == "parameter" and t.id not in held and t.alive and t.id not in covered]
    if capture.backward_calls and outside:
        trained = [t for t in outside if ctx.got_grad(t)]
        idle = [t for t in outside if not ctx.got_grad(t)]
        if trained:
            names = [ctx.label(t) for t in trained]
            built = [(opt.get("name"), opt.get("line")) for opt in capture.optimizers if opt.get("line")]
            where = "; " + "; ".join(f"`{name}` was built at line {line} from the parameters that existed then"
                                     for name, line in built) if built else ""
            out.append(Finding(
                "GS802", "warning", f"{len(trained)} parameter(s) get gradients but sit in no optimizer",
                unique([*(t.line for t in trained), *(line for _, line in built)]), names,
                f"{listed(names)} {plural(names, 'receives', 'receive')} gradients but no optimizer holds "
                f"{plural(names, 'it', 'them')}: never updated (a forgotten parameter, or parameters made after "
                f"the optimizer, e.g. by wrapping the model with adapters), or wasted work{where}.",
                "add them to the optimizer, or freeze them (requires_grad_(False)) / compute their part "
                "under torch.no_grad()"))
        if idle:
            names = [ctx.label(t) for t in idle]
            out.append(Finding(
                "GS802", "info", f"{len(idle)} parameter(s) require grad but sit in no optimizer",
                unique(t.line for t in idle), names,
                f"{listed(names)} {plural(names, 'requires', 'require')} grad, {plural(names, 'gets', 'get')} "
                f"none, and no optimizer holds {plural(names, 'it', 'them')} (e.g. a frozen teacher, a target "
                "network used under no_grad, or a module used only as a template).",
                "call requires_grad_(False) on them to make the intent explicit"))
    return out + _grad_buffers(ctx, held) + _grad_attrs(ctx, held) + _never_changed(ctx) + _cleared_before_step(ctx)


def _grad_buffers(ctx: Context, held: set[int]) -> list[Finding]:
    """GS802 for a buffer that requires grad and gets gradients: model.parameters() never yields it."""
    found = [t for _, _, t in _unheld_with_gradient(ctx, held, "grad_buffers")]
    if not ctx.capture.backward_calls or not found:
        return []
    names = [ctx.label(t) for t in found]
    return [Finding(
        "GS802", "warning", f"{len(found)} buffer(s) get gradients but sit in no optimizer",
        unique(t.line for t in found), names,
        f"{listed(names)} {plural(names, 'is a buffer', 'are buffers')} (register_buffer) that "
        f"{plural(names, 'requires', 'require')} grad and {plural(names, 'receives', 'receive')} gradients, but "
        "model.parameters() does not yield buffers, so no optimizer built from it updates "
        f"{plural(names, 'it', 'them')}.",
        "make a learnable value an nn.Parameter (self.x = nn.Parameter(...)) instead of a buffer")]


def _unheld_with_gradient(ctx: Context, held: set[int], key: str) -> list[tuple[dict, str | None, TensorInfo]]:
    """(module, attribute or None, tensor), once per tensor, for the tensors the modules list under
    `key` (ids, or attribute -> id) that get gradients while no optimizer holds them."""
    found, seen = [], set()
    for module in ctx.capture.modules:
        entries = module.get(key) or ()
        for attr, tid in entries.items() if isinstance(entries, dict) else ((None, tid) for tid in entries):
            t = ctx.tensors.get(tid)
            if t is not None and t.id not in held and t.id not in seen and ctx.got_grad(t):
                seen.add(t.id)
                found.append((module, attr, t))
    return found


def _grad_attrs(ctx: Context, held: set[int]) -> list[Finding]:
    """GS802 for a tensor that requires grad kept as a plain module attribute and getting gradients,
    while the script trains with an optimizer that does not hold it: not an nn.Parameter, so
    model.parameters() never yields it."""
    if not ctx.capture.optimizers or not ctx.capture.backward_calls:
        return []
    found = _unheld_with_gradient(ctx, held, "grad_attrs")
    if not found:
        return []
    names = [f"{m['name']}.{attr}" for m, attr, _ in found]
    return [Finding(
        "GS802", "warning", f"{len(found)} tensor(s) that require grad are plain module attributes in no optimizer",
        unique(t.line for _, _, t in found), names,
        f"{listed(names)} {plural(names, 'is a tensor', 'are tensors')} with requires_grad=True kept as "
        f"{plural(names, 'an attribute', 'attributes')} of {plural(names, 'its', 'their')} module, not as "
        f"nn.Parameter: {plural(names, 'it gets', 'they get')} gradients, but model.parameters() does not yield "
        f"{plural(names, 'it', 'them')}, so no optimizer built from it updates {plural(names, 'it', 'them')}.",
        "make it a parameter: self.x = nn.Parameter(...) (and build the optimizer after)")]


def _cleared_before_step(ctx: Context) -> list[Finding]:
    """GS806: zero_grad() between the backward call and the step: the step applies no gradient."""
    by_line: dict[tuple, list[ClearedGradsEvent]] = {}
    for e in ctx.of_kind(ClearedGradsEvent):
        by_line.setdefault((e.file, e.line), []).append(e)
    out = []
    for (file, line), events in by_line.items():
        dropped = sum(d.count for d in ctx.capture.dropped
                      if d.what == "events" and d.kind == "cleared_grads" and d.file == file and d.line == line)
        steps = len(events) + dropped
        first = events[0]
        out.append(Finding(
            "GS806", "warning", f"zero_grad() at line {line} clears the gradients before the step uses them",
            unique([line, first.backward_line, first.step_line]), [],
            f"zero_grad() at line {line} ran after backward() at line {first.backward_line} and before the "
            f"optimizer's step() at line {first.step_line}, at {steps} step(s): none of those steps applied the "
            "gradients that backward() computed.",
            f"call zero_grad() before the forward pass or right after step(), never between backward() "
            f"(line {first.backward_line}) and step() (line {first.step_line})"))
    return out


def misdirected_optimizers(ctx: Context) -> list[tuple[dict, list[TensorInfo], list[TensorInfo]]]:
    """Computed once per Context (optimizer_audit and trainable_without_grad both ask)."""
    return ctx.once(_misdirected_optimizers)


def _misdirected_optimizers(ctx: Context) -> list[tuple[dict, list[TensorInfo], list[TensorInfo]]]:
    """(optimizer, the tensors it holds, parameters that get gradients in no optimizer) for each optimizer
    none of whose tensors got a gradient from any recorded backward, or fed any recorded op or cut (they
    are not the model's: a copy's), while other parameters did get gradients."""
    if not ctx.capture.backward_calls or any(r.raised for r in ctx.capture.roots):
        return []
    held_anywhere = ctx.optimizer_params()
    trained = [t for t in ctx.tensors.values() if t.kind == "parameter" and t.alive and t.id not in held_anywhere
               and ctx.got_grad(t)]
    if not trained:
        return []
    replaced = {p for e in ctx.of_kind(ReplacedEvent) for p in e.old}  # GS804's case
    cut = {p for e in ctx.of_kind(CutEvent) for p in e.reaches}  # used, but cut on the way (GS203/GS207...)
    found = []
    for opt in ctx.capture.optimizers:
        held = [ctx.tensors[p] for p in opt.get("params", []) if p in ctx.tensors]
        if held and all(ctx.watched(t) and not ctx.got_grad(t) and t.id not in replaced and t.id not in cut
                        and not ctx.view.consumers.get(t.vid) for t in held):
            found.append((opt, held, trained))
    return found


def _misdirected(ctx: Context, opt: dict, held: list[TensorInfo], trained: list[TensorInfo]) -> Finding:
    """GS805: every step of this optimizer updates tensors no backward reaches."""
    names = [ctx.label(t) for t in trained]
    held_names = [ctx.label(t) for t in held]
    name, line = opt.get("name"), opt.get("line")
    built = f" (built at line {line})" if line else ""
    return Finding(
        "GS805", "warning", f"optimizer `{name}` holds none of the parameters that get gradients",
        unique([line, *(t.line for t in trained)]), names,
        f"`{name}`{built} holds {listed(held_names, 6)}, none of which got a gradient from any recorded backward, "
        f"while {listed(names, 6)} {plural(names, 'gets', 'get')} gradients but {plural(names, 'sits', 'sit')} in no "
        "optimizer: every step updates tensors the loss never reaches (an optimizer built over a copy of the "
        "model, such as an EMA or a deepcopy, or over a model object that was later rebuilt).",
        f"build `{name}` from the parameters of the model the loss is computed with "
        "(torch.optim.X(model.parameters(), ...)); keep copies such as an EMA model out of it")


def stale_replacements(ctx: Context) -> list[tuple[ReplacedEvent, list[int], list[TensorInfo], str]]:
    """(event, old parameters an optimizer holds, new parameters none holds, that optimizer's name) for each
    layer or parameter assigned anew while an optimizer still held the one it replaced."""
    found = []
    held_by = {p: opt.get("name") for opt in ctx.capture.optimizers for p in opt.get("params", [])}
    for event in ctx.of_kind(ReplacedEvent):
        stale = [p for p in event.old if p in held_by]
        new = [ctx.tensors[p] for p in event.new if p in ctx.tensors and ctx.tensors[p].requires_grad]
        if stale and new and not any(t.id in held_by for t in new):
            found.append((event, stale, new, held_by[stale[0]]))
    return found


def _replaced_after_optimizer(ctx: Context, event: ReplacedEvent, stale: list[int], new: list[TensorInfo],
                              optimizer: str) -> Finding:
    """GS804: the optimizer keeps the replaced parameters; the new ones are trained by nobody."""
    names = [ctx.label(t) for t in new]
    if event.what == "module":
        fix = (f"replace the layer before building the optimizer, or add the new parameters: "
               f"{optimizer}.add_param_group({{'params': {event.module}.parameters()}})")
    else:
        fix = "replace the parameter before building the optimizer, or change its values in place under torch.no_grad()"
    return Finding(
        "GS804", "warning", f"`{event.module}` was replaced after optimizer `{optimizer}` was built",
        unique([event.line]), names,
        f"line {event.line} assigns a new {event.what} to `{event.module}`, but `{optimizer}` was built before and "
        f"still holds the {len(stale)} old parameter(s), which the model no longer uses; the new "
        f"{listed(names)} {plural(names, 'gets', 'get')} gradients that no optimizer step applies, so "
        f"`{event.module}` never trains.",
        fix)


def _never_changed(ctx: Context) -> list[Finding]:
    """GS803: a non-zero gradient at two or more optimizer steps, and no step changed the values."""
    health = ctx.capture.grad_health
    if health is None:
        return []
    stalled = [u for u in health.updates if u.steps_with_grad >= 2 and u.steps_changed == 0 and u.tensor in ctx.tensors]
    if not stalled:
        return []
    tensors = [ctx.tensors[u.tensor] for u in stalled]
    names = [ctx.label(t) for t in tensors]
    steps = min(u.steps_with_grad for u in stalled)
    lines = unique(t.line for t in tensors)
    if health.clip_max_norm is not None and health.clip_max_norm <= 0:
        severity = "warning"
        why = (f": clip_grad_norm_ at line {health.clip_line} was given max_norm={health.clip_max_norm:g}, which "
               "scales every gradient to zero before the step")
        fix = "give clip_grad_norm_ a positive max_norm (1.0 is common), or leave the clipping out"
        lines = unique([health.clip_line, *lines])
    elif all(u.lr == 0 for u in stalled):
        severity, why = "warning", f": {plural(names, 'its', 'their')} parameter group's learning rate is 0"
        fix = ("give that parameter group a non-zero learning rate, or freeze the parameters (requires_grad_(False)) "
               "and leave them out of the optimizer")
    else:  # gradients too small to move a float32 value, or rounding noise where the true gradient is 0
        severity = "info"
        why = (" although the learning rate is not 0: the updates are too small to change a float32 value "
               "(vanishing gradients, or rounding noise on a parameter the loss does not depend on), or code "
               "writes the old values back")
        fix = ("if these should train, look for vanishing gradients (GS903, `gradscope render --format grads`); "
               "rounding noise needs nothing")
    return [Finding(
        "GS803", severity, f"{len(tensors)} parameter(s) get gradients but no optimizer step changes them",
        lines, names,
        f"{listed(names)} had a non-zero gradient at {steps} or more optimizer steps, but "
        f"{plural(names, 'its', 'their')} values never changed{why}.", fix)]
