"""GS701: a loss target that carries gradient."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, unique
from gradscope.capture import LossTargetEvent


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
        out.append(Finding(
            "GS701", "warning", f"the target of `{event.op}` carries gradient",
            unique([made, event.line]), [name],
            f"`{name}` (made at line {made}) is passed as the target of `{event.op}` at line "
            f"{event.line} and requires grad: backward will also push gradient through the target into "
            "whatever produced it (usually a teacher, a pseudo-label or an EMA model that should stay fixed).",
            f"use `{name}.detach()` as the target, or compute it under torch.no_grad()"))
    return out
