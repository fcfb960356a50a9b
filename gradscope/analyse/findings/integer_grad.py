"""GS401: requires_grad asked of an integer tensor."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, unique
from gradscope.capture import ErrorEvent


def integer_requires_grad(ctx: Context) -> list[Finding]:
    out = []
    for event in ctx.of_kind(ErrorEvent):
        error = event.error
        if "floating point" not in error or "require" not in error:
            continue
        dtype = event.dtype or "an integer dtype"
        line = event.line
        target = ctx.name(event.tensor) if event.tensor is not None else None
        subject = f"`{target}`" if target else f"`{event.op}(...)`"
        nearby = ctx.tensors.get(event.nearby) if event.nearby is not None else None
        hint = ""
        tensors = [target] if target else []
        if nearby is not None:
            hint = (f" `{ctx.label(nearby)}` (line {nearby.line}), computed from it by `{nearby.op}`, is "
                    "floating point and differentiable: take the gradient with respect to that instead.")
            tensors.append(ctx.label(nearby))
        how = "requires_grad=True" if event.requires_grad_kwarg else f"{event.op}()"
        out.append(Finding(
            "GS401", "error", f"{how} on {subject} of dtype {dtype}",
            unique([line, nearby.line if nearby else None]), tensors,
            f"line {line} asks {subject} ({dtype}) to require grad, but only floating point and complex "
            f"tensors can: PyTorch raised {error.split(': ', 1)[-1]!r}.{hint}",
            "make it floating point (.float()) if it is a quantity, or differentiate with respect to the "
            "floating point tensor computed from it (for token ids: the embedding output)"))
    return out
