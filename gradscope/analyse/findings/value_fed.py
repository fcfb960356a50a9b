"""GS209 (values copied out of the graph), for a number that goes back in as an operand:
`loss + float(log_var)`. The recorder saw the very float object `float()` / `.item()` returned, read
from a tensor that requires grad, passed to a tensor op whose result a backward call reads: autograd
sees a constant there, so that term sends no gradient to the tensor it was read from."""

from __future__ import annotations

import re

from gradscope.analyse.findings.context import Context, Finding, unique
from gradscope.capture import ValueFedEvent

_TRAINABLE_KINDS = ("parameter", "leaf")
_ITEM = re.compile(r"([A-Za-z_][\w.]*(?:\[[^\]]*\])?)\.item\(\)")


def values_fed_back(ctx: Context) -> list[Finding]:
    events = ctx.of_kind(ValueFedEvent)
    if not events:
        return []
    roots = [f"t{r.tensor}" for r in ctx.capture.roots if r.call not in ("implicit", "selected")]
    feeding = ctx.view.upstream(roots)
    found, seen = [], set()
    for e in events:
        t = ctx.tensors.get(e.tensor) if e.tensor is not None else None
        if t is None or (e.read_line, e.line) in seen or f"t{e.out}" not in feeding:
            continue
        seen.add((e.read_line, e.line))
        name = ctx.label(t)
        read = f"float({name})" if e.read_op == "__float__" else f"{name}.{e.read_op}()"
        written = _as_written(ctx.capture.source(e.read_file, e.read_line), e.read_op)
        if written is not None:  # the script's own words: `float(task.log_var)`
            read, name = written
        trainable = t.kind in _TRAINABLE_KINDS
        elsewhere = " (it still gets gradient from the loss's other terms)" if trainable and ctx.got_grad(t) else ""
        message = (f"`{read}` at line {e.read_line} turns `{name}` into a Python number, and `{e.op}` at line "
                   f"{e.line} uses that number on the way to the loss: autograd sees a constant there, so this "
                   f"term sends no gradient to `{name}`{elsewhere}.")
        if not trainable:
            message += (" This may be intended: a number read from a result is a stop-gradient (dividing by "
                        "`loss.item()` to normalise).")
        found.append(Finding(
            "GS209", "warning" if trainable else "info", f"`{read}` feeds the loss as a plain number",
            unique([e.read_line, e.line]), [name], message,
            f"use the tensor `{name}` itself in the loss; read numbers out with float() / .item() only to log them"))
    return found


def _as_written(text: str | None, read_op: str | None) -> tuple[str, str] | None:
    """(the read, the expression read from) as the line writes them, when the line has exactly one
    such read: `float(task.log_var)` and `task.log_var`."""
    if not text:
        return None
    if read_op == "item":
        found = _ITEM.findall(text)
        return (f"{found[0]}.item()", found[0]) if len(found) == 1 else None
    if read_op != "__float__" or text.count("float(") != 1:
        return None
    start = text.index("float(") + len("float(")
    depth = 1
    for end in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[end], 0)
        if depth == 0:
            inner = text[start:end].strip()
            return (f"float({inner})", inner) if inner else None
    return None
