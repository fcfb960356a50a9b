"""GS101: backward() on a tensor that has no grad_fn, and what cut it from the graph."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, unique, listed
from gradscope.capture import EscapeEvent, RootInfo, TensorInfo


_NO_GRAPH = "does not require grad and does not have a grad_fn"
# Ops that build a new tensor from the values of their inputs (a list of tensors): no graph kept.
COPY_OPS = frozenset({"tensor", "as_tensor", "asarray", "Tensor", "FloatTensor"})


def backward_without_graph(ctx: Context) -> list[Finding]:
    out = []
    for root in ctx.capture.roots:
        if not root.raised or _NO_GRAPH not in root.raised:
            continue
        t = ctx.tensors[root.tensor]
        name = ctx.label(t)
        why, culprits, fix = _why_no_graph(ctx, t, root)
        lines = unique([*culprits, t.line, root.line])
        out.append(Finding(
            "GS101", "error", f"backward() on `{name}`, which has no grad_fn",
            lines, [name],
            f"`{name}` (line {t.line}) does not require grad, so backward() at line {root.line} has no graph "
            f"to walk: it was {why}. PyTorch raised: {root.raised}",
            fix))
    exc = ctx.capture.exit.get("exception") or {}
    if not out and _NO_GRAPH in (exc.get("message") or ""):
        # the failing call was not snapshotted (a capture from an older gradscope): say what is known
        out.append(Finding(
            "GS101", "error", "backward() on a tensor that has no grad_fn", unique([exc.get("line")]), [],
            f"backward() at line {exc.get('line')} was called on a tensor that does not require grad "
            "(detached, computed under torch.no_grad(), or from constants and frozen parameters only). "
            f"Run `gradscope explain --step {ctx.capture.backward_calls} SCRIPT` (the failing call) to see which.",
            "backpropagate from a tensor computed with gradient tracking from tensors that require grad"))
    return out


def _why_no_graph(ctx: Context, t: TensorInfo, root: RootInfo) -> tuple[str, list, str]:
    """Why `t` has no graph, the lines that caused it (culprit first), and the fix."""
    if t.kind == "no_grad" and t.cut_op == "set_grad_enabled" and _is_with(ctx.capture.source(t.file, t.cut_line)):
        return (f"computed with gradient tracking off: the `with torch.set_grad_enabled(...)` block at line "
                f"{t.cut_line} was entered with a false argument", [t.cut_line],
                f"check the condition given to torch.set_grad_enabled at line {t.cut_line}: it was False here, "
                "where gradients are needed")
    if t.kind == "no_grad" and t.cut_op == "set_grad_enabled":
        return (f"computed with gradient tracking off: torch.set_grad_enabled(False) at line {t.cut_line} turned "
                "it off for the whole program (not only for that block or function) and nothing turned it back "
                "on before this was computed", [t.cut_line],
                f"use `with torch.no_grad():` around the evaluation instead of torch.set_grad_enabled(False) "
                f"at line {t.cut_line} (or call torch.set_grad_enabled(True) after it)")
    decorator = t.cut_def_line if t.kind == "no_grad" else None
    if decorator is not None:
        return (f"computed with gradient tracking off, inside a function decorated with @torch.no_grad() at line "
                f"{decorator} (called at line {t.cut_line})", [decorator, t.cut_line],
                f"remove the @torch.no_grad() decorator at line {decorator} (or keep a grad-enabled version of that "
                "function for training)")
    if t.kind == "no_grad":
        return (f"computed with gradient tracking off (torch.no_grad() active from line {t.cut_line}, "
                "as a block or as a @torch.no_grad() function called there)", [t.cut_line],
                "compute it outside torch.no_grad() (or remove the @torch.no_grad() decorator from the "
                "function that computes it) when you mean to backpropagate through it")
    if t.kind == "detached":
        verb = ".data" if t.cut_op == "Tensor.data" else f"{t.cut_op}()"
        return (f"cut from its graph by {verb} at line {t.cut_line}", [t.cut_line],
                f"backpropagate from the tensor before {verb}, or drop the {verb} if gradient should flow")
    if t.kind == "inference":
        return (f"made under torch.inference_mode() (line {t.cut_line})", [t.cut_line],
                "compute it outside inference_mode, or use torch.no_grad() and clone() where gradient is needed")
    if t.kind == "nondiff" and t.op in COPY_OPS:
        return (f"made by `torch.{t.op}(...)` from tensors that require grad: it copies their values into a new "
                "tensor and leaves their graph behind", [t.line],
                f"combine tensors with torch.stack(...) or torch.cat(...) (or sum them) instead of "
                f"torch.{t.op}(...), which keeps the graph")
    if t.kind == "nondiff":
        return (f"made by `{t.op}`, which is not differentiable", [t.line],
                "backpropagate from a differentiable quantity (e.g. the logits or a loss), not from this result")
    if t.op and t.inputs_required_grad is False and t.grad_fn is None and t.op not in _FACTORIES:
        cut, frozen = _upstream(ctx, t)
        if cut is not None:
            why, lines, fix = _why_no_graph(ctx, cut, root)
            return (f"computed from `{ctx.label(cut)}` (line {cut.line}), which was {why}", lines, fix)
        if frozen:
            names = [ctx.label(p) for p in frozen]
            return (f"computed only from constants and frozen parameters ({listed(names)}, requires_grad=False)",
                    [ctx.freeze_line(frozen[0])], "unfreeze the parameters that should train (requires_grad_(True)) "
                                                  "before the forward pass")
        escaped = _escapes_before(ctx, root)
        if escaped:
            return _from_escapes(escaped, t)
        return (f"computed (by `{t.op}`) only from tensors that do not require grad", [t.line],
                "make the inputs that should be trained require grad (requires_grad=True) before computing it")
    escaped = _escapes_before(ctx, root)
    if escaped:
        return _from_escapes(escaped, t)
    return ("created with requires_grad=False", [t.line],
            "create it with requires_grad=True (or call .requires_grad_()) if you need its gradient, or call "
            "backward() on a result computed from tensors that require grad")


def _is_with(text: str | None) -> bool:
    """The cited line enters a `with` block (the capture keeps the text of cited lines)."""
    return bool(text) and text.startswith(("with ", "async with ")) and "set_grad_enabled(" in text


def _escapes_before(ctx: Context, root: RootInfo) -> list[dict]:
    """Values taken out of tensors that carry gradient (.item(), .tolist(), .numpy()) between the
    previous backward call and this one: the likely source of a loss rebuilt from plain numbers."""
    if root.step is None:
        return []
    found = [e for e in ctx.of_kind(EscapeEvent) if e.backward_calls == root.step - 1]
    lines = unique(e.line for e in found)
    return [next(e for e in found if e.line == line) for line in lines]


def _from_escapes(escaped: list[dict], t: TensorInfo) -> tuple[str, list, str]:
    where = ", ".join(f"`.{e.op.strip('_')}()` at line {e.line}" for e in escaped[:3])
    return (f"rebuilt from plain numbers: {where} took values out of tensors that carry gradient (Python floats, "
            f"lists or NumPy arrays keep no graph), and line {t.line} made a new tensor from them. gradscope "
            "cannot follow Python values, so this link is inferred from the order of the calls",
            [e.line for e in escaped[:3]],
            "keep the loss in torch: use the tensors themselves (e.g. `total = total + loss_i` instead of "
            "`loss_i.item()`, torch ops instead of NumPy, torch.stack instead of lists); call .item() only for "
            "logging")


def _upstream(ctx: Context, t: TensorInfo):
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
            if src is not None and (src.kind in ("detached", "no_grad", "inference")
                                    or (src.kind == "nondiff" and src.op in COPY_OPS)):
                return src, frozen
            if src is not None and src.kind == "frozen":
                frozen.append(src)
            queue.append(edge.src)
    return None, frozen


_FACTORIES = frozenset({"tensor", "as_tensor", "ones", "zeros", "randn", "rand", "empty", "full", "arange",
                        "linspace", "randint", "ones_like", "zeros_like", "randn_like", "rand_like", "eye"})
