"""GS301/GS302: `.grad` read on a non-leaf, and retain_grad() called after backward."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, unique
from gradscope.capture import GradReadEvent, RetainGradEvent, TensorInfo


def nonleaf_grad(ctx: Context) -> list[Finding]:
    out = []
    seen = set()
    for event in ctx.of_kind(GradReadEvent):
        if event.retains_grad or not event.grad_none or event.line in seen:
            continue
        seen.add(event.line)
        t = ctx.tensors.get(event.tensor)
        if t is None:
            continue
        name = ctx.label(t)
        leaf = _rebound_leaf(ctx, t)
        if leaf is not None:
            out.append(Finding(
                "GS301", "warning", f"`{name}.grad` read on a non-leaf: `{name}` was rebound at line {t.line}",
                unique([t.line, event.line, leaf.line]), [name],
                f"line {t.line} rebinds `{name}` to the result of `{t.op}`, a non-leaf, so `{name}.grad` at line "
                f"{event.line} is None (PyTorch warns). The gradient lives on the original leaf "
                f"`{name}` created at line {leaf.line}.",
                f"keep the leaf under its own name (e.g. `{name}_scaled = {name} * ...`) and read the leaf's "
                f".grad, or create it already scaled: torch.randn(...).mul_(...).requires_grad_()"))
        else:
            out.append(Finding(
                "GS301", "warning", f"`{name}.grad` read on a non-leaf tensor",
                unique([event.line, t.line]), [name],
                f"`{name}` (line {t.line}) is the result of `{t.op or t.grad_fn}`, not a leaf: PyTorch does not "
                f"keep its .grad, so reading it at line {event.line} gives None (with a UserWarning).",
                f"call {name}.retain_grad() before backward(), or read the .grad of the leaf tensors it was "
                "computed from"))
    for event in ctx.of_kind(RetainGradEvent):
        t = ctx.tensors.get(event.tensor)
        if t is None or not event.backward_calls or event.line in seen:
            continue
        later_none = any(e.tensor == t.id and e.grad_none for e in ctx.of_kind(GradReadEvent))
        if not (t.grad_is_none is True or (t.grad_is_none is None and later_none)):
            continue
        seen.add(event.line)
        name = ctx.label(t)
        before = [r.line for r in ctx.capture.roots if r.call not in ("implicit", "selected")]
        where = f" at line {before[0]}" if before else ""
        out.append(Finding(
            "GS302", "warning", f"`{name}.retain_grad()` called after backward",
            unique([event.line, *before]), [name],
            f"retain_grad() at line {event.line} only affects later backward calls; the backward{where} "
            f"already ran, so `{name}.grad` stays None.",
            f"call {name}.retain_grad() right after computing `{name}`, before backward()"))
    return out


def _rebound_leaf(ctx: Context, t: TensorInfo) -> TensorInfo | None:
    if not t.name or t.name not in ctx.view.rebinds:
        return None
    earlier = [o for o in ctx.tensors.values()
               if o.name == t.name and o.id != t.id and o.kind in ("leaf", "parameter") and (o.line or 0) < (t.line or 0)]
    return earlier[-1] if earlier else None
