"""GS501/502/503: in-place changes to tensors saved for backward (raised, latent, hidden by .data)."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, unique, plural, listed, first_sentence
from gradscope.capture import SavedChangedViaDataEvent, SavedModifiedEvent


_MODIFIED = "modified by an inplace operation"


def inplace_saved(ctx: Context) -> list[Finding]:
    capture = ctx.capture
    raised = [r for r in capture.roots if r.raised and _MODIFIED in r.raised]
    exc = capture.exit.get("exception") or {}
    if not raised and _MODIFIED in (exc.get("message") or ""):
        raised = [None]
    out = []
    seen = set()
    for event in ctx.of_kind(SavedModifiedEvent):
        key = (event.line, event.saved_by_line, event.saved_name)
        mutated = ctx.tensors.get(event.tensor)
        if not raised and mutated is not None and mutated.kind in ("parameter", "frozen", "leaf"):
            continue  # an optimizer step after a forward never meant for backward (validation): fine
        if key in seen:
            continue
        seen.add(key)
        saved, by = _saved_text(ctx, event)
        same = event.tensor is not None and event.tensor == event.saved
        target = "it" if same else ctx.code(event.tensor)
        culprit = (f"`{event.op}` on {target} at line {event.line}"
                   if event.line else "an in-place operation")
        fix = (f"use the out-of-place form (e.g. `{(event.op or 'op_').rstrip('_')}` instead of "
               f"`{event.op}`), or .clone() the tensor before modifying it")
        if raised:
            root = raised[0]
            back = root.line if root is not None else exc.get("line")
            out.append(Finding(
                "GS501", "error", f"{saved} was modified in place after being saved for backward",
                unique([event.line, event.saved_by_line, back]), _tensor_names(ctx, event),
                f"{saved} was saved for backward{by}, then {culprit} changed it; backward() at line {back} needs the "
                f"original values and raised: {first_sentence(root.raised if root else exc.get('message', ''))}",
                fix))
        else:
            out.append(Finding(
                "GS502", "warning", f"{saved} was modified in place after being saved: backward through it would fail",
                unique([event.line, event.saved_by_line]), _tensor_names(ctx, event),
                f"{saved} was saved for backward{by}, then {culprit} changed it. Nothing raised only because no "
                "backward ran through this graph; the same code in a training step raises 'one of the "
                "variables needed for gradient computation has been modified by an inplace operation'.",
                fix + "; or compute it under torch.no_grad() if no gradient is needed"))
    silent: dict[int, list[dict]] = {}
    for event in ctx.of_kind(SavedChangedViaDataEvent):
        silent.setdefault(event.line, []).append(event)
    for line, events in silent.items():
        names = unique(_data_source(ctx, e) for e in events)
        saved_lines = unique(e.saved_by_line for e in events)
        ops = unique(f"`{e.saved_by_op}` (line {e.saved_by_line})" for e in events)
        out.append(Finding(
            "GS503", "error", f"{listed(names)} changed through .data after being saved for backward: silently "
                              "wrong gradient",
            unique([line, *saved_lines, *ctx.backward_lines()]), names,
            f"{listed(names, 8)} {plural(names, 'was', 'were')} saved for backward by {', '.join(ops)}, then "
            f"`{events[0].op}` through .data at line {line} changed {plural(names, 'it', 'them')}. .data hides the change from autograd's version check, "
            "so backward raised nothing and computed the gradient from the new values.",
            "make the change after backward() (e.g. clip weights after optimizer.step()), or inside "
            "torch.no_grad() without .data so that autograd can detect it"))
    return out




def _data_source(ctx: Context, event: dict) -> str:
    t = ctx.tensors.get(event.tensor)
    source = ctx.tensors.get(t.detached_from) if t is not None and t.detached_from is not None else None
    return ctx.label(source) if source is not None else ctx.name(event.tensor)


def _saved_text(ctx: Context, event: dict) -> tuple[str, str]:
    """Who was saved ("`gate` (in Block.forward)") and by what (" by `sigmoid` at line 16")."""
    op, line = event.saved_by_op, event.saved_by_line
    what = f"the tensor `{event.node}` saved as `{event.saved_name}`"
    if event.saved is not None:
        what = ctx.code(event.saved)
    return what, (f" by `{op}` at line {line}" if op else "")


def _tensor_names(ctx: Context, event: dict) -> list[str]:
    return unique([ctx.name(tid) for tid in (event.saved, event.tensor) if tid is not None])
