"""GS701: a loss target that carries gradient, cited where its branch was copied when it was."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, listed, quoted, unique
from gradscope.analyse.graph import GraphView
from gradscope.capture import LossTargetEvent

# ops users take for an independent copy; they copy the values and keep the graph
COPY_GRAD_FNS = ("CloneBackward", "ToCopyBackward", "CopyBackwards")


def loss_target_grad(ctx: Context) -> list[Finding]:
    out = []
    seen = set()
    for event in ctx.of_kind(LossTargetEvent):
        if event.line in seen:
            continue
        seen.add(event.line)
        t = ctx.tensors.get(event.tensor)
        name = ctx.label(t) if t is not None else "the target"
        made = t.line if t is not None else None
        message = (f"`{name}` (made at line {made}) is passed as the target of `{event.op}` at line "
                   f"{event.line} and requires grad: backward will also push gradient through the target into "
                   "whatever produced it (usually a teacher, a pseudo-label or an EMA model that should stay fixed).")
        fix = f"use `{name}.detach()` as the target, or compute it under torch.no_grad()"
        copies, joined = _copies_into_target(ctx.view, event)
        if not copies:
            out.append(Finding("GS701", "warning", f"the target of `{event.op}` carries gradient",
                               unique([made, event.line]), [name], message, fix))
            continue
        lines = sorted({line for line, _, _ in copies})
        sources = unique([source for _, source, _ in copies])
        op = copies[0][2]
        at = f"line{'s' if len(lines) > 1 else ''} {listed([str(n) for n in lines], 3)}"
        if joined:
            message += (f" Its branch starts from {listed([quoted(s) for s in sources], 3)} through {op} at {at}: "
                        f"a {op} copies the values and keeps the graph, so what the prediction reads through "
                        f"{'them' if len(sources) > 1 else 'it'} also gets the target's gradient.")
            fix = f"copy with `.detach().clone()` at {at} (or make the copy under torch.no_grad())"
        else:
            message += (f" On its way it passes through {op} at {at}, which copies the values and keeps the graph; "
                        f"if that {op} was meant to stop the gradient (a guess from the copy), it needs `.detach()`.")
            fix = f"use `.detach()` (or `.detach().clone()`) at {at}, or compute the target under torch.no_grad()"
        out.append(Finding(
            "GS701", "warning", f"the target of `{event.op}` carries gradient through a {op} at {at}",
            unique([*lines, made, event.line]), [name, *sources], message, fix))
    return out


def _copies_into_target(view: GraphView, event: LossTargetEvent) -> tuple[list[tuple[int, str, str]], bool]:
    """(line, source, op) of the copies on the target's branch, and whether they copy a tensor the
    prediction's branch gets gradient through (BYOL's target weights made with `p.clone()`: where the
    two branches join). Else the copies on the target's own branch (a DQN target's
    `.max(1).values.clone()`, where detach() was likely meant)."""
    if event.tensor is None or event.input is None:
        return [], False
    target, prediction = f"t{event.tensor}", f"t{event.input}"
    if target not in view.inputs or prediction not in view.inputs:
        return [], False  # a call whose graph was not recorded
    shared = view.upstream([prediction])
    joins, others = [], []
    for vid in view.upstream([target], stop=shared):
        grad_fn = view.grad_fn(vid) or ""
        if vid in shared or not grad_fn.startswith(COPY_GRAD_FNS) or view.line(vid) is None:
            continue
        op = "clone()" if grad_fn.startswith("Clone") else "copy"
        for e in view.inputs.get(vid, []):
            if e.flows_grad:
                (joins if e.src in shared else others).append((view.line(vid), view.label(e.src), op))
    return (sorted(joins), True) if joins else (sorted(others), False)
