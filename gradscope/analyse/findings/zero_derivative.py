"""GS211: trainable tensors whose every path to a loss runs through an op whose derivative is zero
everywhere (`round`, `floor`, `ceil`, `trunc`, `sign`).

Backward reaches them and sets `.grad`, but to zeros, so nothing says they do not train: the rounded
weights of quantisation-aware training without a straight-through estimator are the usual case.
Decided from the graph of each recorded backward call: a straight-through estimator
(`w + (w.round() - w).detach()`) keeps the rounding out of the gradient's path, and a tensor that
also reaches the loss another way gets gradient from it, so neither is reported.
"""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, listed, unique
from gradscope.analyse.findings.frontier import frontier_of

# grad_fn class prefix -> the op's name (their backward formulas return zeros)
_ZERO_DERIVATIVE = {"RoundBackward": "round", "FloorBackward": "floor", "CeilBackward": "ceil",
                    "TruncBackward": "trunc", "SignBackward": "sign"}


def zero_derivative(ctx: Context) -> list[Finding]:
    capture = ctx.capture
    roots = [f"t{r.tensor}" for r in capture.roots if r.call not in ("implicit", "selected") and not r.raised]
    if not roots:
        return []
    fr = frontier_of(ctx)
    view = ctx.view
    live: set[int] = set()  # trainable tensors some path reaches without a zero-derivative op
    stops: dict[str, str] = {}  # vertex of a zero-derivative op -> the op
    stack, seen = list(dict.fromkeys(roots)), set(roots)
    while stack:
        vid = stack.pop()
        op = _zero_op(view.grad_fn(vid))
        if op is not None:
            stops[vid] = op
            continue
        t = view.tensor_of(vid)
        if t is not None and t.id in fr.trainable:
            live.add(t.id)
        for e in view.inputs.get(vid, ()):
            if e.flows_grad and e.src not in seen:
                seen.add(e.src)
                stack.append(e.src)
    by_site: dict[tuple, set[int]] = {}
    for vid, op in stops.items():
        stuck = fr.reach_of(vid) - live
        if stuck:
            by_site.setdefault((*view.place(vid), op), set()).update(stuck)
    backs = unique(r.line for r in capture.roots if f"t{r.tensor}" in roots)
    out = []
    for (_, line, op), stuck in sorted(by_site.items(), key=lambda kv: kv[0][1] or 0):
        names = [ctx.label(ctx.tensors[i]) for i in sorted(stuck)]
        out.append(Finding(
            "GS211", "warning", f"{listed(names)} get an all-zero gradient: `{op}` at line {line} has derivative 0",
            unique([line, *backs]), names,
            f"every path from {listed(names, 8)} to the loss runs through `{op}` at line {line}, whose derivative "
            f"is zero everywhere: backward sets their .grad, but to zeros, so no optimizer step moves them.",
            f"keep `{op}` in the forward value but let the gradient pass, with a straight-through estimator: "
            f"`x + (torch.{op}(x) - x).detach()` (or a smooth relaxation) instead of torch.{op}(x)"))
    return out


def _zero_op(grad_fn: str | None) -> str | None:
    if not grad_fn:
        return None
    for prefix, op in _ZERO_DERIVATIVE.items():
        if grad_fn.startswith(prefix):
            return op
    return None
