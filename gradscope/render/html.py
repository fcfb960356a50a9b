"""One self-contained HTML page: the graph, expandable in place, searchable, with paths to the loss.

The page opens on the picture the SVG output draws (same drawing, laid out by Graphviz's `dot`).
Expanding or collapsing a module re-lays the graph out inside the page with Graphviz compiled to
WebAssembly (vendored `@hpcc-js/wasm-graphviz`); `page/page.js` assembles the DOT from fragments
made here by dot.py's own functions, so every state is drawn the way `to_dot` would draw it.
Pan and zoom are `svg-pan-zoom` (vendored). Nothing is fetched at view time (a
Content-Security-Policy forbids it). All data travels as JSON inside a <script type="application/json">
block with `<`, `>` and `&` written as \\u003c, \\u003e, \\u0026, so a name like `</script>` cannot end
the block; the page shows user strings with textContent, never innerHTML.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from importlib import resources
from typing import Any

from gradscope.analyse.graph import GraphView
from gradscope.analyse.modules import has_norms, recorded_roots
from gradscope.analyse.norms import combined_history, norm_history
from gradscope.capture import Capture
from gradscope.render import drawing as drawing_mod
from gradscope.render.dot import KIND_STYLES, _cluster_attrs, _edge_attrs, _module_path, _node_line, to_dot
from gradscope.render.drawing import Drawing, Edge, Vertex
from gradscope.render.graphviz import run_dot

# WebAssembly needs 'wasm-unsafe-eval' to compile the embedded Graphviz; nothing may be fetched.
_CSP = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline' 'wasm-unsafe-eval'; "
        "img-src data:")
HIDDEN = "@HIDDEN@"  # placeholder for the count in the "N nodes elided" vertex the page may draw
_EXPORTS = re.compile(r"export\s*\{([^}]*)\};?\s*(//# sourceMappingURL=\S*)?\s*$")
_CUT_WORDS = {"detached": "detach", "no_grad": "no_grad", "frozen": "frozen", "nondiff": "non-differentiable",
              "inference": "inference_mode", "constant": "constant (never carried gradient)"}


def render_html(capture: Capture, options: dict | None = None) -> str:
    options = options or {}
    drawing = drawing_mod.build(capture, options)
    svg = run_dot(to_dot(drawing, legend=False), "svg").decode("utf-8")
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE
    model = page_model(capture, options, drawing)
    title = html.escape(drawing.title)
    problems = "".join(f'<p class="problem">{html.escape(p)}</p>' for p in model["problems"])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{_CSP}\">\n"
        f"<title>{title}</title>\n<style>{_asset('page', 'page.css')}</style>\n</head>\n<body data-state=\"loading\">\n"
        f"<header><h1>{title}</h1>"
        "<input id=\"search\" type=\"search\" placeholder=\"search a name or glob ( / )\" autocomplete=\"off\">"
        "<span id=\"search-count\"></span>"
        "<button id=\"zoom-in\" title=\"zoom in (+)\">+</button><button id=\"zoom-out\" title=\"zoom out (-)\">−</button>"
        "<button id=\"fit\" title=\"fit (f)\">fit</button><button id=\"reset\" title=\"modules as first drawn\">reset</button>"
        "<span id=\"status\"></span></header>\n"
        f"<main><div id=\"view\">{svg}</div>\n"
        f"<aside id=\"details\">{problems}<div id=\"info\"><p>Hover a node or an edge to see it; click to pin (Escape unpins). "
        "Click a module box to open it, its frame to close it. Drag to pan, scroll to zoom.</p></div>"
        f"<div id=\"legend\">{_legend_html(drawing)}</div></aside></main>\n"
        f"<script type=\"application/json\" id=\"gs-data\">{script_json(model)}</script>\n"
        f"<script>{_scripts()}</script>\n</body>\n</html>\n"
    )


# -- what the page knows -------------------------------------------------------------------------


def page_model(capture: Capture, options: dict, drawing: Drawing) -> dict:
    """Every vertex the page may draw (the uncollapsed ones and a box for each module), the edges
    between uncollapsed vertices, DOT fragments for each, and what the details panel shows."""
    view = GraphView(capture)
    base = drawing_mod.base(capture, options)
    boxes = _module_boxes(base)
    findings, problem = _findings_by_name(capture)
    norm_rows = _norm_rows(capture)
    vertices: dict[str, dict] = {}
    for v in list(base.vertices.values()) + list(boxes.values()):
        vertices[v.vid] = {"dot": _node_line(v, ""), "module": v.module, "kind": v.kind, "run": v.run,
                           "root": bool(v.root), "path": _module_path(v), **_shown(view, v, base, findings, norm_rows)}
    box_of: dict[str, dict[str, str]] = {}
    for v in boxes.values():
        box_of.setdefault(v.module, {})["" if v.run is None else str(v.run)] = v.vid
    edges = []
    for e in base.edges:
        elided = Edge("elided", e.dst, e.status, e.label, e.back)
        edges.append({"src": e.src, "dst": e.dst, "attrs": _edge_attrs(e), "elided_attrs": _edge_attrs(elided),
                      "key": f"{e.status}|{e.label}|{e.back}", "grad": e.status == "grad", "back": e.back,
                      **_edge_info(view, e)})
    modules = sorted({m for v in vertices.values() for m in v["path"]} | set(box_of))
    header = to_dot(Drawing(drawing.title, notes=drawing.notes), legend=False)
    max_nodes = options.get("max_nodes") or drawing_mod.DEFAULT_MAX_NODES
    elided = Vertex("elided", "elided", f"{HIDDEN} nodes elided", [f"--max-nodes {max_nodes}"])
    return {
        "title": drawing.title, "notes": drawing.notes, "problems": [problem] if problem else [],
        "order": list(base.vertices), "vertices": vertices, "edges": edges, "boxes": box_of,
        "clusters": {m: _cluster_attrs(base, (("m", m.rsplit(".", 1)[0]), ("m", m)) if "." in m else (("m", m),))
                     for m in modules},
        "runs": {str(r): {"attrs": _cluster_attrs(base, (("r", r),)), "modules": run.modules}
                 for r, run in base.runs.items()},
        "collapsed": sorted({v.module for v in drawing.vertices.values() if v.kind == "module"}),
        "never_boxed": list(drawing_mod.NEVER_BOXED),
        "header": header[:header.rindex("}")], "max_nodes": max_nodes,
        "elided": {"dot": _node_line(elided, ""), "hidden": HIDDEN},
    }


def _module_boxes(base: Drawing) -> dict[str, Vertex]:
    """The collapsed box of every module (one per repeated step it sits in), as collapse_modules makes it."""
    deepest = max((drawing_mod.module_depth(v.module) for v in base.vertices.values() if v.module), default=0)
    boxes: dict[str, Vertex] = {}
    for depth in range(1, deepest + 1):
        for v in drawing_mod.collapse_modules(base, depth).vertices.values():
            if v.kind == "module" and v.vid not in base.vertices:
                boxes.setdefault(v.vid, v)
    return boxes  # collapse_modules wrote what each box holds into its details


def _norm_rows(capture: Capture):
    """vertex -> one details row per recorded backward call that left it a gradient: the norm right after
    that call (a module box: its parameters together, as the module view shows the latest)."""
    history = norm_history(capture) if has_norms(capture) else {}
    calls = {}
    for n, i in enumerate(recorded_roots(capture), 1):
        root = capture.roots[i]
        name = capture.tensor(root.tensor).name
        calls[root.step] = f"#{n}" + (f" {name}" if name else "") + (f" (line {root.line})" if root.line else "")
    params: dict[str, list[int]] = {}
    for m in capture.modules:
        name = m.get("name")
        while isinstance(name, str) and name:
            params.setdefault(name, []).extend(m.get("params", []))
            name = name.rpartition(".")[0]

    def rows(view: GraphView, v: Vertex) -> list[list[str]]:
        if not history:
            return []
        if v.kind == "module":
            tensors = params.get(v.module or "", [])
        else:
            t = view.tensor_of(v.vid)
            tensors = [t.id] if t is not None and v.kind in ("parameter", "leaf") else []
        return [[f"grad norm after backward {calls.get(call, f'call {call}')}", f"{value:.3g}"]
                for call, value in combined_history(history, tensors).items()]

    return rows


def _shown(view: GraphView, v: Vertex, base: Drawing, findings: dict[str, list[str]], norm_rows=None) -> dict:
    """The details panel of one vertex: words, not internal ids; saved tensors apart (shown on request)."""
    t = view.tensor_of(v.vid) if v.kind not in ("module", "elided", "note") else None
    rows: list[list[Any]] = []
    names: list[str] = [v.title]
    words = KIND_STYLES.get(v.kind, (None, None, None, v.kind))[3] or v.kind
    rows.append(["kind", words])
    other: list[str] = []
    if t is not None:
        for name in (t.name, t.param_name):
            if name and name not in names:
                names.append(name)
        other = sorted(n for n, tid in view.capture.variables.items() if tid == t.id and n not in names)
        names.extend(other)
    skip = {"id", "title", "kind", "saved"}
    for key, value in v.details.items():
        if key in skip:
            continue
        if isinstance(value, list):
            value = "[" + ", ".join(str(x) for x in value) + "]" if key == "shape" else ", ".join(map(str, value))
        rows.append([key, value if isinstance(value, (str, int, float, bool)) else str(value)])
    if v.kind not in ("module", "elided", "note"):
        text = view.capture.source(*view.place(v.vid))
        if text:
            rows.append(["source", text])
    if norm_rows is not None:
        rows.extend(norm_rows(view, v))
    if other:
        rows.insert(1, ["also named", ", ".join(other)])
    found = []
    for name in names:
        for f in findings.get(name, []):
            if f not in found:
                found.append(f)
    return {"title": v.title, "names": names, "rows": rows, "saved": v.details.get("saved", []), "findings": found}


def _findings_by_name(capture: Capture) -> tuple[dict[str, list[str]], str | None]:
    """Findings per tensor name; when the findings cannot be computed (a capture the loader let
    through but the findings cannot read), the page still draws and says why they are missing."""
    from gradscope.analyse.findings import find_all

    try:
        found = find_all(capture)
    except Exception as exc:  # noqa: BLE001 - shown on the page, not swallowed
        return {}, f"findings could not be computed: {type(exc).__name__}: {exc}"
    out: dict[str, list[str]] = {}
    for f in found:
        for name in f.tensors:
            out.setdefault(str(name), []).append(f"{f.code} {f.severity}: {f.title}")
    return out, None


def _edge_info(view: GraphView, e: Edge) -> dict:
    """An edge in words: whether gradient flows, and if not why, where, and through which op."""
    src, dst = view.label(e.src) if e.src.startswith(("t", "n")) else e.src, \
        view.label(e.dst) if e.dst.startswith(("t", "n")) else e.dst
    edge = next((x for x in view.inputs.get(e.dst, []) if x.src == e.src), None)
    t, node = view.tensor_of(e.dst), view.node_of(e.dst)
    op = t.op if t is not None and t.op else (node.op or node.name) if node is not None else None
    if e.back:
        why = "flows (from an earlier step of the repeated loop)"
    elif e.status == "grad":
        why = "flows"
    elif e.status == "constant":
        why = "none: a constant input (it never carried gradient)"
    else:
        why = _CUT_WORDS.get(edge.cut, edge.cut) if edge is not None and edge.cut else "cut"
    info = {"from": src, "to": dst, "why": why, "op": op, "label": e.label}
    if edge is not None and edge.line is not None and e.status == "cut":
        info["line"] = edge.line
    return info


def _legend_html(drawing: Drawing) -> str:
    items = []
    for kind, (_, style, fill, text) in KIND_STYLES.items():
        border = "dashed" if "dashed" in style else "dotted" if "dotted" in style else "solid"
        width = 2 if "bold" in style else 1
        items.append(f'<li><span class="swatch" style="background:{fill};border:{width}px {border} #444"></span>'
                     f"{html.escape(text)}</li>")
    return ("<details><summary>legend</summary><ul>" + "".join(items) +
            '<li><span class="line"></span>gradient flows</li>'
            '<li><span class="line cut"></span>cut (why · line)</li></ul></details>')


# -- assets ----------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _asset(folder: str, name: str) -> str:
    return resources.files("gradscope.render").joinpath(folder, name).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _scripts() -> str:
    """The vendored libraries and the page's own script, as one classic script."""
    graphviz = _asset("vendor", "hpcc-js-wasm-graphviz.js")
    match = _EXPORTS.search(graphviz)
    if match is None:
        raise RuntimeError("vendored hpcc-js-wasm-graphviz.js has no trailing export list")
    exports = ", ".join(f"{b.strip()}: {a.strip()}" for a, b in
                        (item.split(" as ") for item in match.group(1).split(",")))
    bundle = (f"var GSGraphviz = (function () {{\n\"use strict\";\n{graphviz[:match.start()]}\n"
              f"return {{{exports}}};\n}})();\n")
    text = "\n".join((_asset("vendor", "svg-pan-zoom.min.js"), bundle, _asset("page", "page.js")))
    if re.search(r"</script|<!--", text, re.I):
        raise RuntimeError("a vendored script contains </script or <!--")
    return text


def script_json(data: object) -> str:
    """JSON that is safe inside a <script> element: no `<`, `>`, `&` or line separators left raw."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text
