"""`explain --tensor NAME`: every path from each root to a named tensor, and where each path is cut."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context
from gradscope.analyse.graph import GraphView
from gradscope.analyse.labels import cut_reason
from gradscope.capture import Capture, TensorInfo

MAX_PATHS = 20  # paths listed per root by `explain --tensor`
PATH_BUDGET = 200_000  # path steps explored per root, so diamond-rich graphs stay fast


def explain_tensor(capture: Capture, name: str) -> dict:
    """Every path from each root to the tensor(s) called `name`, and where each cut path is cut."""
    ctx = Context(capture)
    targets = capture.by_name(name)
    result = {"name": name, "tensors": [], "roots": []}
    for t in targets:
        result["tensors"].append({
            "label": f"{ctx.label(t)} (line {t.line})" if t.name in ctx.view.rebinds else ctx.label(t), "kind": t.kind, "line": t.line, "requires_grad": t.requires_grad,
            "is_leaf": t.is_leaf,
            "grad": ("unknown" if not (t.is_leaf and t.requires_grad) else "yes" if ctx.got_grad(t)
                     else "no" if ctx.watched(t) else "unknown"),
            "cut": _cut_text(t)})
    unique: list[dict] = []
    for entry in result["tensors"]:  # the same line in a loop makes one object per iteration
        if entry not in unique:
            unique.append(entry)
    result["tensors"] = [dict(entry, objects=result["tensors"].count(entry)) for entry in unique]
    target_vids = {t.vid for t in targets}
    feeds = _feeders(ctx.view, target_vids)

    def label(vid: str) -> str:
        t = ctx.view.tensor_of(vid)
        text = ctx.view.label(vid)
        return f"{text} (line {t.line})" if t is not None and t.name in ctx.view.rebinds else text

    for root in capture.roots:
        rvid = f"t{root.tensor}"
        paths = _paths(ctx.view, rvid, target_vids, feeds)
        result["roots"].append({
            "root": ctx.name(root.tensor), "line": root.line, "call": root.call,
            "paths": [{"vertices": [label(v) for v in p["vertices"]],
                       "cuts": [{"reason": e.reason or "does not require grad", "line": e.line,
                                 "between": [label(e.src), label(e.dst)]} for e in p["cuts"]]}
                      for p in paths["paths"]],
            "more": paths["more"]})
    return result


def _cut_text(t: TensorInfo) -> str | None:
    if t.kind in ("detached", "no_grad", "inference", "nondiff", "frozen"):
        return cut_reason(t)
    return None


def _feeders(view: GraphView, targets: set[str]) -> set[str]:
    """Vertices from which a target can be reached going towards inputs (the target's consumers, up)."""
    seen = set(targets)
    stack = list(targets)
    while stack:
        vid = stack.pop()
        for edge in view.consumers.get(vid, []):
            if edge.dst not in seen:
                seen.add(edge.dst)
                stack.append(edge.dst)
    return seen


def _paths(view: GraphView, root: str, targets: set[str], feeds: set[str]) -> dict:
    found: list[dict] = []
    more = 0
    if root not in feeds:
        return {"paths": [], "more": 0}
    stack = [(root, [root], [])]
    budget = PATH_BUDGET
    while stack and budget > 0:
        budget -= 1
        vid, path, cuts = stack.pop()
        if vid in targets and len(path) > 1 or (vid in targets and vid == root):
            if len(found) < MAX_PATHS:
                found.append({"vertices": path, "cuts": cuts})
            else:
                more += 1
            continue
        for edge in view.inputs.get(vid, []):
            if edge.src in feeds and edge.src not in path:
                stack.append((edge.src, path + [edge.src], cuts + ([] if edge.flows_grad else [edge])))
    if stack:
        more += len(stack)  # not followed to the end: counted as "more", never silently dropped
    return {"paths": found, "more": more}
