"""What a picture shows, before any syntax: vertices with their label lines, edges, clusters.

Built from a Capture in passes, each `drawing = pass(drawing, ...)`: the full graph, folding of
repeated steps (fold.py), collapsing modules below a depth, eliding beyond a node budget. The DOT
and HTML renderers only format a Drawing, so all of them show the same thing. No torch here.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from typing import Any

from gradscope.analyse.graph import GraphView, compiled_note, shape_text
from gradscope.analyse.statuses import Statuses, describe_cuts
from gradscope.analyse.statuses import compute as compute_statuses
from gradscope.capture import Capture
from gradscope.render.fold import Folding, find_runs, module_indices

DEFAULT_MAX_NODES = 500  # beyond this, the rest is one "N nodes elided" vertex
AUTO_BUDGET = 80  # the default --module-depth is the deepest that keeps the picture under this
SAVED_SHOWN = 8
TEXT_MAX = 80

DETAIL_ORDER = ("title", "kind", "status", "name", "parameter", "module", "root", "backward raised", "why cut",
                "no gradient because", "detached from", "grad_fn", "op",
                "shape", "dtype", "line", "requires_grad", "is_leaf", ".grad at exit", "repeated", "saved", "id")
CUT_KINDS = ("detached", "no_grad", "inference", "nondiff")  # frozen parameters are handled on their own
NEVER_BOXED = ("module", "module_frozen", "elided", "frozen", *CUT_KINDS)  # drawn even inside a closed module
_CALLS = {"backward": ".backward()", "autograd.backward": "autograd.backward()", "autograd.grad": "autograd.grad()",
          "implicit": "result (no backward call)", "selected": "--root"}


@dataclass
class Vertex:
    vid: str
    kind: str  # a tensor kind, or "grad_fn", "module", "elided"
    title: str
    lines: list[str] = field(default_factory=list)
    module: str | None = None
    root: str | None = None  # how it was backpropagated from, when it is a root
    run: int | None = None  # index of the repeated step it stands for
    details: dict[str, Any] = field(default_factory=dict)
    internal: str | None = None  # "op": grad_fn-only node or unnamed view; "buffer": a module buffer (hidden unless --ops)


@dataclass
class Edge:
    src: str
    dst: str
    status: str = "grad"  # grad | cut | constant (analyse/statuses.py)
    label: str | None = None
    back: int = 0  # > 0: from that many steps earlier of a folded run


@dataclass
class RunBox:
    count: int
    where: str
    modules: list[str] = field(default_factory=list)  # module path shared by every copy (no varying index)


@dataclass
class Drawing:
    title: str
    vertices: dict[str, Vertex] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    runs: dict[int, RunBox] = field(default_factory=dict)
    module_types: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def build(capture: Capture, options: dict | None = None) -> Drawing:
    """All passes, as the options ask: fold (unless unfold), collapse modules, elide."""
    # A big capture is millions of objects; the cyclic GC would rescan them all on every few
    # thousand allocations here (half the time for a 5,000-step RNN), and nothing here makes cycles.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build(capture, options or {})
    finally:
        if enabled:
            gc.enable()


def base(capture: Capture, options: dict | None = None) -> Drawing:
    """The drawing before modules are collapsed and nodes elided (the HTML page collapses in place)."""
    options = options or {}
    view = GraphView(capture)
    statuses = compute_statuses(capture, view)
    drawing = full_graph(capture, view, statuses, options.get("saved", False), fold=not options.get("unfold", False))
    return drawing if options.get("ops") else hide_internals(drawing)


def _build(capture: Capture, options: dict) -> Drawing:
    drawing = base(capture, options)
    depth = options.get("module_depth")
    if depth is None:
        depth = auto_module_depth(drawing)
        if depth is not None:
            drawing.notes.append(f"modules below depth {depth} collapsed (--module-depth to change)")
    if depth is not None:
        drawing = collapse_modules(drawing, depth)
    max_nodes = options.get("max_nodes") or DEFAULT_MAX_NODES
    return elide(drawing, max_nodes)


# -- the full graph, folded ------------------------------------------------------------------------


def full_graph(capture: Capture, view: GraphView, statuses: Statuses, saved: bool, fold: bool = True) -> Drawing:
    roots = {f"t{r.tensor}": r for r in capture.roots}
    vids: list[str] = []
    seen: set[str] = set()
    for e in capture.edges:
        for v in (e.src, e.dst):
            if v not in seen:
                seen.add(v)
                vids.append(v)
    for v in roots:
        if v not in seen:
            seen.add(v)
            vids.append(v)
    edges = list({(e.src, e.dst): e for e in capture.edges}.values())
    folding = find_runs(view, vids, edges, set(roots)) if fold else Folding()
    drawing = Drawing(title=_title(capture), module_types={m.get("name"): m.get("type") for m in capture.modules
                                                           if isinstance(m.get("name"), str)})
    known = set(drawing.module_types)
    buffers = _buffers(capture, known)
    for v in vids:
        if folding.drawn(v) != v:
            continue
        vertex = _vertex(view, statuses, v, roots.get(v), saved, known)
        if v not in roots:
            vertex.internal = _internal(view, statuses, v, buffers)
        if v in folding.where:
            vertex.run = folding.where[v][0]
        drawing.vertices[v] = vertex
    for r, run in enumerate(folding.runs):
        drawing.runs[r] = RunBox(run.count, _run_where(view, run), _shared_modules(view, run, known))
        for v in run.drawn:
            drawing.vertices[v].details["repeated"] = f"×{run.count} (one step drawn: the last)"
    drawing.edges = _folded_edges(edges, folding, statuses)
    if not drawing.vertices:
        code = capture.exit.get("code")
        why = f"the script exited with code {code} first" if code else "nothing it computed requires grad"
        drawing.vertices["empty"] = Vertex("empty", "note", "no autograd graph to draw", [why],
                                           details={"id": "empty", "title": "no autograd graph", "why": why})
    if folding.runs:
        drawing.notes.append("repeated steps drawn once (--unfold to draw them all)")
    return drawing


VIEW_OPS = frozenset({"view", "reshape", "transpose", "t", "permute", "expand", "expand_as", "squeeze", "unsqueeze",
                      "flatten", "contiguous", "view_as", "reshape_as", "select", "narrow", "split", "chunk",
                      "unbind", "__getitem__", "Tensor.__getitem__", "Tensor.view", "Tensor.reshape",
                      "Tensor.transpose", "Tensor.permute", "Tensor.t", "Tensor.expand", "Tensor.squeeze",
                      "Tensor.unsqueeze", "Tensor.flatten", "Tensor.contiguous"})


def _buffers(capture: Capture, modules: set[str]) -> set[str]:
    """Module buffers (running stats) that never carried gradient: named `<module>.<buffer>`."""
    return {t.vid for t in capture.tensors if t.kind == "constant" and t.name and t.scope is None and "." in t.name
            and t.name.rsplit(".", 1)[0] in modules}


def _internal(view: GraphView, statuses: Statuses, vid: str, buffers: set[str]) -> str | None:
    """What a default picture hides: grad_fn nodes that no tensor owns (TBackward0 inside a linear),
    unnamed views and reshapes, and buffers with no cut behind them. Never a cut."""
    status = statuses.vertex(vid)
    if status.status == "cut":
        return None
    if vid in buffers and not status.behind:
        return "buffer"
    t = view.tensor_of(vid)
    if t is None:
        node = view.node_of(vid)
        name = node.name if node is not None else ""
        if name and not name[-1].isdigit() or compiled_note(name):
            return None  # a custom autograd.Function or a compiled region: the user's own unit, kept
        return "op"
    if t.kind == "nonleaf" and not t.name and not t.param_name and t.op in VIEW_OPS:
        return "op"
    return None


def hide_internals(drawing: Drawing) -> Drawing:
    """Fold hidden vertices away: an op-internal vertex is contracted (its inputs feed its consumers
    directly, a cut on either side kept as a cut), a buffer is dropped with its edges."""
    hidden = {vid for vid, v in drawing.vertices.items() if v.internal}
    if not hidden:
        return drawing
    ins: dict[str, list[Edge]] = {}
    outs: dict[str, list[Edge]] = {}
    for e in drawing.edges:
        ins.setdefault(e.dst, []).append(e)
        outs.setdefault(e.src, []).append(e)
    for vid in hidden:
        kind = drawing.vertices[vid].internal
        incoming = [e for e in ins.pop(vid, []) if e.src != vid]
        outgoing = [e for e in outs.pop(vid, []) if e.dst != vid]
        for e in incoming:
            outs[e.src] = [x for x in outs.get(e.src, []) if x is not e]
        for e in outgoing:
            ins[e.dst] = [x for x in ins.get(e.dst, []) if x is not e]
        if kind == "buffer":
            continue
        for a in incoming:
            for b in outgoing:
                merged = _merge(a, b)
                outs.setdefault(merged.src, []).append(merged)
                ins.setdefault(merged.dst, []).append(merged)
    out = Drawing(drawing.title, runs=drawing.runs, module_types=drawing.module_types, notes=list(drawing.notes))
    out.vertices = {vid: v for vid, v in drawing.vertices.items() if vid not in hidden}
    edges = [e for lst in outs.values() for e in lst]
    out.edges = _remap_edges(edges, {})
    if any(v.internal == "op" for v in drawing.vertices.values()):
        out.notes.append("grad_fn-only nodes and unnamed views folded into their ops (--ops to draw them)")
    return out


def _merge(a: Edge, b: Edge) -> Edge:
    """a: x -> hidden, b: hidden -> y; the contracted x -> y keeps the stronger status and its label."""
    rank = {"cut": 2, "constant": 1, "grad": 0}
    first = a if rank[a.status] >= rank[b.status] else b
    return Edge(a.src, b.dst, first.status, first.label, max(a.back, b.back))


def _folded_edges(edges, folding: Folding, statuses: Statuses) -> list[Edge]:
    out: dict[tuple, tuple[Edge, set]] = {}
    for e in edges:
        src, dst = folding.drawn(e.src), folding.drawn(e.dst)
        ws, wd = folding.where.get(e.src), folding.where.get(e.dst)
        back = wd[1] - ws[1] if ws and wd and ws[0] == wd[0] and wd[1] > ws[1] else 0
        status = statuses.edge(e.src, e.dst)
        key = (src, dst, status.status, status.reason, back)
        entry = out.get(key)
        if entry is None:
            entry = out[key] = (Edge(src, dst, status.status, _text(status.reason), back), set())
        side = wd if wd else ws
        if side and not back and (not ws or not wd or ws[0] != wd[0]):
            entry[1].add(side)
    result = []
    for edge, steps in out.values():
        if steps:
            run = next(iter(steps))[0]
            count = len(folding.runs[run].steps)
            if len(steps) < count:
                which = sorted(j for _, j in steps)
                note = f"step {which[0] + 1} only" if len(which) == 1 else f"{len(which)} of {count} steps"
                edge.label = f"{edge.label} · {note}" if edge.label else note
        if edge.back:
            note = "from the previous step" if edge.back == 1 else f"from {edge.back} steps back"
            edge.label = f"{edge.label} · {note}" if edge.label else note
        result.append(edge)
    return result


def _run_where(view: GraphView, run) -> str:
    first, last = run.steps[0], run.steps[-1]
    for a, b in zip(first, last):
        ma, mb = _module(view, a), _module(view, b)
        if ma and mb and module_indices(ma) != module_indices(mb):
            return f"{ma} … {mb}"
    lines = sorted({view.where(v) for v in last if view.where(v)})
    return ", ".join(lines[:3]) + (" …" if len(lines) > 3 else "")


def _shared_modules(view: GraphView, run, known: set[str]) -> list[str]:
    """The module clusters a repeated step sits in: those all of its copies share."""
    shared: list[str] | None = None
    for vid in run.steps[0] + run.steps[-1]:
        name = _module(view, vid, known)
        parts = name.split(".") if name else []
        path = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if shared is None:
            shared = path
        else:
            n = 0
            while n < min(len(shared), len(path)) and shared[n] == path[n]:
                n += 1
            shared = shared[:n]
    return shared or []


def _module(view: GraphView, vid: str, known: set[str] | None = None) -> str | None:
    t = view.tensor_of(vid)
    if t is not None:
        if t.param_name and "." in t.param_name:
            owner = t.param_name.rsplit(".", 1)[0]
            if known is None or owner in known:
                return owner
        return t.module
    node = view.node_of(vid)
    return node.module if node is not None else None


def _vertex(view: GraphView, statuses: Statuses, vid: str, root, saved: bool, known: set[str]) -> Vertex:
    t = view.tensor_of(vid)
    node = view.node_of(vid)
    where = view.where(vid)
    details: dict[str, Any] = {"id": vid}
    if t is not None:
        title = view.label(vid)
        kind = t.kind
        # two lines: the name, then kind · shape; the rest is in the details (HTML) and the tooltip (SVG)
        dims = "[" + ", ".join(str(d) for d in t.shape) + "]" if t.shape is not None else "[?]"
        lines = [f"{kind} · {dims}" + (f" {t.dtype}" if t.dtype and t.dtype != "float32" else "")]
        status = statuses.vertex(vid)
        details["status"] = {"grad": "carries gradient", "cut": "cut", "constant": "no gradient"}[status.status]
        if status.cut is not None:
            details["why cut"] = status.cut.reason
        elif status.behind:
            details["no gradient because"] = describe_cuts(statuses.cuts_behind(vid))
        details.update({"kind": kind, "name": t.name, "parameter": t.param_name, "grad_fn": t.grad_fn, "op": t.op,
                        "shape": t.shape, "dtype": t.dtype, "requires_grad": t.requires_grad,
                        "is_leaf": t.is_leaf})
        if t.is_leaf and t.requires_grad:
            details[".grad at exit"] = None if t.grad_is_none is None else ("None" if t.grad_is_none else "set")
    else:
        title = node.name if node is not None else vid
        kind = "grad_fn"
        lines = ["grad_fn"]
        details.update({"kind": "grad_fn (no tensor kept)", "grad_fn": title, "op": node.op if node else None})
    note = compiled_note(t.grad_fn if t is not None else (node.name if node is not None else None))
    if note:
        lines.append(note)
        details["not visible"] = note
    if where:
        details["line"] = where
    module = _module(view, vid, known)
    if module:
        details["module"] = module
    if root is not None:
        how = _CALLS.get(root.call, root.call)
        at = f" · line {root.line}" if root.line is not None else ""
        ran = f" · ran {root.calls}×" if root.calls > 1 else ""
        details["root"] = f"{how}{at}{ran}"
        if root.raised:
            details["backward raised"] = root.raised
            lines.append(f"backward raised: {root.raised.splitlines()[0] if root.raised.strip() else '?'}")
    if node is not None and node.saved:
        entries = [_saved_text(s) for s in node.saved]
        details["saved"] = entries
        if saved:
            lines.extend(f"saved {s}" for s in entries[:SAVED_SHOWN])
            if len(entries) > SAVED_SHOWN:
                lines.append(f"… {len(entries) - SAVED_SHOWN} more saved")
    if t is not None and t.detached_from is not None and t.detached_from in view.tensors:
        source = view.tensors[t.detached_from]
        details["detached from"] = view.label(source.vid) + (f" (line {source.line})" if source.line else "")
    details["title"] = title
    ordered = {k: details[k] for k in DETAIL_ORDER if k in details}
    ordered.update(details)
    return Vertex(vid, kind, _text(title), [_text(x) for x in lines], module,
                  details.get("root"), details=_drop_empty(ordered))


def _saved_text(entry: dict) -> str:
    name = str(entry.get("name", "?"))
    if "shape" in entry or "dtype" in entry:
        shape = entry.get("shape")
        dims = "[" + ", ".join(str(d) for d in shape) + "]" if isinstance(shape, list) else "[?]"
        return f"{name}: {dims} {entry.get('dtype') or ''}".rstrip()
    return f"{name} = {entry.get('value')!r}"


def _drop_empty(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None and v != []}


def _text(s: str | None) -> str | None:
    if s is None:
        return None
    return s if len(s) <= TEXT_MAX else s[:TEXT_MAX - 1] + "…"


def _title(capture: Capture) -> str:
    n = capture.backward_calls
    parts = [f"gradscope · {capture.script or 'capture'}", f"{n} backward call{'s' if n != 1 else ''}"]
    code = capture.exit.get("code")
    if code:
        parts.append(f"exit {code}")
    return " · ".join(parts)


# -- module depth ----------------------------------------------------------------------------------


def module_depth(name: str) -> int:
    return name.count(".") + 1


def auto_module_depth(drawing: Drawing) -> int | None:
    """None (everything) when the picture is small enough; else the deepest depth that is."""
    if len(drawing.vertices) <= AUTO_BUDGET:
        return None
    deepest = max((module_depth(v.module) for v in drawing.vertices.values() if v.module), default=0)
    for depth in range(deepest - 1, 0, -1):
        if len(collapse_modules(drawing, depth).vertices) <= AUTO_BUDGET:
            return depth
    return 1 if deepest else None


def collapse_modules(drawing: Drawing, depth: int) -> Drawing:
    """Everything inside a module at `depth` (submodules included) becomes one box for that module,
    except what would hide a cut: a module mixing trainable and frozen parameters, or holding a
    detach / no_grad / non-differentiable cut, is opened down to the modules that do not; cut
    vertices and frozen parameters are never boxed (a frozen parameter keeps its dashed edge into
    its box). A box says what it holds: `4 trainable · 2 frozen`, and `frozen` in its colour."""
    mixed = _mixed_modules(drawing)
    box_of: dict[str, str] = {}
    boxes: dict[str, Vertex] = {}
    order = {name: i for i, name in enumerate(drawing.module_types)}
    for v in drawing.vertices.values():  # modules the capture does not list still get stable ids
        if v.module and v.module not in order:
            order[v.module] = len(order)
    for v in drawing.vertices.values():
        if not v.module or module_depth(v.module) < depth or v.kind in NEVER_BOXED:
            continue
        parts = v.module.split(".")
        name = next((".".join(parts[:d]) for d in range(depth, len(parts) + 1)
                     if ".".join(parts[:d]) not in mixed), None)
        if name is None:
            continue
        box_id = f"m{order.setdefault(name, len(order))}" + (f"r{v.run}" if v.run is not None else "")
        box = boxes.get(box_id)
        if box is None:
            mtype = drawing.module_types.get(name)
            box = boxes[box_id] = Vertex(box_id, "module", _text(name), [mtype or "module"], name, run=v.run,
                                         details={"id": box_id, "kind": "module (collapsed)", "module": name,
                                                  "type": mtype, "title": name, "members": 0, "trainable": 0,
                                                  "frozen": 0})
            if v.run is not None:
                box.details["repeated"] = v.details.get("repeated")
        box.details["members"] += 1
        if v.kind == "parameter":
            box.details["trainable"] += 1
        if v.root:
            box.root = box.details["root"] = v.root
        box_of[v.vid] = box_id
    if not boxes:
        return drawing
    frozen_lines: dict[str, set] = {}
    for v in drawing.vertices.values():  # frozen parameters stay outside, but their box counts them
        if v.kind == "frozen" and v.module:
            for box in boxes.values():
                if v.module == box.module or v.module.startswith(box.module + "."):
                    box.details["frozen"] += 1
                    if v.details.get("why cut"):
                        frozen_lines.setdefault(box.vid, set()).add(v.details["why cut"])
    for box in boxes.values():  # what a user asks of a closed module (the HTML page says the same)
        inside = {v.vid for v in drawing.vertices.values() if v.module and (v.module == box.module or
                  v.module.startswith(box.module + ".")) and v.run == box.run}
        kinds = [drawing.vertices[vid].kind for vid in inside]
        box.details["trainable parameters"] = kinds.count("parameter")
        box.details["frozen parameters"] = kinds.count("frozen")
        box.details["cuts inside"] = sorted({e.label for e in drawing.edges if e.status == "cut" and not e.back
                                             and e.label and (e.dst in inside or e.src in inside)}) or "none"
    for box in boxes.values():
        trainable, frozen = box.details["trainable"], box.details["frozen"]
        parts = ([f"{trainable} trainable"] if trainable else []) + ([f"{frozen} frozen"] if frozen else [])
        box.lines.append(" · ".join(parts) if parts else f"{box.details['members']} vertices, no parameters")
        if frozen and not trainable:
            box.lines[-1] = "frozen" + (f" · {sorted(frozen_lines[box.vid])[0].split(' · ', 1)[-1]}"
                                        if box.vid in frozen_lines else "")
    out = Drawing(drawing.title, runs=drawing.runs, module_types=drawing.module_types, notes=list(drawing.notes))
    for v in drawing.vertices.values():
        target = box_of.get(v.vid)
        if target is None:
            out.vertices[v.vid] = v
        elif target not in out.vertices:
            out.vertices[target] = boxes[target]
    out.edges = _remap_edges(drawing.edges, box_of)
    return out


def _mixed_modules(drawing: Drawing) -> set[str]:
    """Modules that hold both trainable and frozen parameters, or a cut other than a frozen parameter."""
    trainable: set[str] = set()
    frozen: set[str] = set()
    cut: set[str] = set()
    for v in drawing.vertices.values():
        if not v.module:
            continue
        parts = v.module.split(".")
        prefixes = [".".join(parts[:d]) for d in range(1, len(parts) + 1)]
        if v.kind == "parameter":
            trainable.update(prefixes)
        elif v.kind == "frozen":
            frozen.update(prefixes)
        elif v.kind in CUT_KINDS:
            cut.update(prefixes)
    return (trainable & frozen) | cut


def _remap_edges(edges: list[Edge], mapping: dict[str, str]) -> list[Edge]:
    seen: dict[tuple, Edge] = {}
    for e in edges:
        src, dst = mapping.get(e.src, e.src), mapping.get(e.dst, e.dst)
        if src == dst and not e.back:
            continue
        key = (src, dst, e.status, e.label, e.back)
        if key not in seen:
            seen[key] = Edge(src, dst, e.status, e.label, e.back)
    return list(seen.values())


# -- node budget -----------------------------------------------------------------------------------


def elide(drawing: Drawing, max_nodes: int) -> Drawing:
    """Keep the `max_nodes` vertices nearest the roots; the rest become one counted vertex."""
    if len(drawing.vertices) <= max_nodes:
        return drawing
    inputs: dict[str, list[str]] = {}
    has_consumer: set[str] = set()
    for e in drawing.edges:
        inputs.setdefault(e.dst, []).append(e.src)
        has_consumer.add(e.src)
    starts = [v for v, x in drawing.vertices.items() if x.root] + \
             [v for v in drawing.vertices if v not in has_consumer] + list(drawing.vertices)
    kept: dict[str, None] = {}
    queue_i, queue = 0, []
    for s in starts:
        if len(kept) >= max_nodes:
            break
        if s in kept:
            continue
        kept[s] = None
        queue.append(s)
        while queue_i < len(queue) and len(kept) < max_nodes:
            for src in inputs.get(queue[queue_i], []):
                if src not in kept and len(kept) < max_nodes:
                    kept[src] = None
                    queue.append(src)
            queue_i += 1
    hidden = len(drawing.vertices) - len(kept)
    out = Drawing(drawing.title, runs=drawing.runs, module_types=drawing.module_types, notes=list(drawing.notes))
    for v in kept:
        out.vertices[v] = drawing.vertices[v]
    out.vertices["elided"] = Vertex("elided", "elided", f"{hidden} nodes elided", [f"--max-nodes {max_nodes}"],
                                    details={"id": "elided", "kind": "elided", "title": f"{hidden} nodes elided",
                                             "hint": "raise --max-nodes to draw them"})
    out.notes.append(f"{hidden} nodes elided (--max-nodes {max_nodes})")
    mapping = {v: "elided" for v in drawing.vertices if v not in kept}
    out.edges = [e for e in _remap_edges(drawing.edges, mapping) if not (e.src == e.dst == "elided")]
    return out
