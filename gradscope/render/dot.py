"""DOT text for a Drawing, written by hand: stable ids, escaped labels, clusters, a legend.

Ids are the capture's vertex ids (`t<N>`, `n<N>`, `m<N>` for a collapsed module), never addresses,
so the same capture always gives the same text. Every string from user code goes through
`html_text` into an HTML-like label; no user string is ever a DOT id or a quoted attribute.
Each kind has its own shape and border style, so the picture reads without colour too. The text
is built iteratively (no recursion), so 20,000-node graphs are fine.
"""

from __future__ import annotations

from gradscope.capture import Capture
from gradscope.render import drawing as drawing_mod
from gradscope.render.drawing import Drawing, Vertex
from gradscope.render.graphviz import run_dot

# kind -> (shape, style, fill colour, legend text)
KIND_STYLES: dict[str, tuple[str, str, str, str]] = {
    "parameter": ("box", "bold,filled", "#c8e6c9", "parameter (trainable)"),
    "frozen": ("box", "dashed,filled", "#bbdefb", "frozen parameter (requires_grad=False)"),
    "leaf": ("ellipse", "bold,filled", "#c8e6c9", "leaf (requires_grad=True)"),
    "nonleaf": ("box", "rounded,filled", "#fff9c4", "non-leaf (has a grad_fn)"),
    "grad_fn": ("box", "diagonals,filled", "#f5f5f5", "grad_fn node (tensor not kept)"),
    "detached": ("octagon", "dashed,filled", "#ffcdd2", "detached (.detach() / .data)"),
    "no_grad": ("hexagon", "dashed,filled", "#ffcdd2", "made under no_grad"),
    "inference": ("house", "dashed,filled", "#e1bee7", "made under inference_mode"),
    "nondiff": ("trapezium", "dashed,filled", "#ffcdd2", "output of a non-differentiable op"),
    "constant": ("ellipse", "dotted,filled", "#eeeeee", "constant (requires_grad=False)"),
    "module": ("box3d", "filled", "#e3f2fd", "collapsed module (--module-depth)"),
    "elided": ("note", "dotted,filled", "#ffffff", "elided nodes (--max-nodes)"),
}
NOTE_STYLE = ("plaintext", "solid", "#ffffff", "")
CUT_COLOUR = "#c62828"
CONSTANT_COLOUR = "#9e9e9e"
BACK_COLOUR = "#1565c0"
LEGEND_COLUMNS = 3


def render_dot(capture: Capture, options: dict | None = None) -> str:
    return to_dot(drawing_mod.build(capture, options))


def render_svg(capture: Capture, options: dict | None = None) -> bytes:
    """The SVG picture (for notebooks' `_repr_svg_`); needs Graphviz's `dot`."""
    return run_dot(render_dot(capture, options), "svg")


def html_text(s: object) -> str:
    """Escape for a Graphviz HTML-like label; unprintable characters are shown as escapes."""
    out = []
    for ch in str(s):
        if ch == "&":
            out.append("&amp;")
        elif ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == '"':
            out.append("&quot;")
        elif ch == "'":
            out.append("&#39;")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            code = ord(ch)
            named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(ch)
            out.append(named or (f"\\x{code:02x}" if code < 0x100 else
                                 f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"))
    return "".join(out)


def to_dot(d: Drawing, legend: bool = True) -> str:
    out = ["digraph gradscope {",
           '  graph [rankdir=TB, newrank=true, fontname="Helvetica", fontsize=12, nodesep=0.25, ranksep=0.35,',
           '         labelloc=t,',
           f"         label=<{_title_label(d)}>];",
           '  node [fontname="Helvetica", fontsize=11, margin="0.08,0.04"];',
           '  edge [fontname="Helvetica", fontsize=9, arrowsize=0.7];']
    _clusters(d, out)
    for e in d.edges:
        out.append(f"  {e.src} -> {e.dst} [{_edge_attrs(e)}];")
    out.extend(_beside_consumers(d))  # page.js places them by the same rule when it redraws
    if legend:  # static pictures (the HTML page has its legend beside the picture)
        _legend(d, out)
    out.append("}")
    return "\n".join(out) + "\n"


def _title_label(d: Drawing) -> str:
    parts = [f"<B>{html_text(d.title)}</B>"]
    parts.extend(f'<FONT POINT-SIZE="10">{html_text(n)}</FONT>' for n in d.notes)
    return "<BR/>".join(parts)


def _node_line(v: Vertex, indent: str) -> str:
    shape, style, fill, _ = KIND_STYLES.get(v.kind, NOTE_STYLE)
    rows = []
    if v.root:
        rows.append(f"<B>ROOT ← {html_text(v.root)}</B>")
    rows.append(f"<B>{html_text(v.title)}</B>")
    size = 9 if v.kind == "grad_fn" else 10
    rows.extend(f'<FONT POINT-SIZE="{size}">{html_text(line)}</FONT>' for line in v.lines)
    attrs = [f'id="{v.vid}"', f'class="gs_node gs_{v.kind}"', f"shape={shape}", f'style="{style}"',
             f'fillcolor="{fill}"', f"label=<{'<BR/>'.join(rows)}>", f'tooltip="{_tooltip(v)}"']
    if v.root:
        attrs += ["peripheries=2", "penwidth=2"]
    if v.kind == "grad_fn":
        attrs.append("fontsize=9")
    return f"{indent}{v.vid} [{', '.join(attrs)}];"


def _tooltip(v: Vertex) -> str:
    """The vertex's details, one per line, for the SVG tooltip (escaped like a label, then quoted)."""
    lines = []
    for key, value in v.details.items():
        if key in ("id", "title"):
            continue
        text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        lines.append(f"{key}: {text}")
    body = "&#10;".join(html_text(line) for line in [v.details.get("title", v.title), *lines])
    return body.replace("\\", "\\\\")


def _edge_attrs(e) -> str:
    attrs = []
    if "elided" in (e.src, e.dst):
        attrs.append("style=dotted")
    elif e.back:
        attrs += ["style=bold", f'color="{BACK_COLOUR}"', f'fontcolor="{BACK_COLOUR}"', "constraint=false"]
    elif e.status == "cut":
        attrs += ["style=dashed", f'color="{CUT_COLOUR}"', f'fontcolor="{CUT_COLOUR}"']
    elif e.status == "constant":
        attrs += [f'color="{CONSTANT_COLOUR}"']
    if e.label:
        attrs.append(f"label=<{html_text(e.label)}>")
    return ", ".join(attrs) if attrs else 'style=solid'


# -- clusters: modules, and repeated steps -----------------------------------------------------------


def _module_path(v: Vertex) -> list[str]:
    if not v.module:
        return []
    parts = v.module.split(".")
    names = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return names[:-1] if v.kind.startswith("module") else names


def _clusters(d: Drawing, out: list[str]) -> None:
    """Nest vertices in module clusters; a repeated step's cluster sits below the modules that all
    its copies share (`encoder.layers`, not `encoder.layers.5`), and holds the ones below that."""
    paths = {vid: _module_path(v) for vid, v in d.vertices.items()}
    shared: dict[int, list[str]] = {}
    for vid, v in d.vertices.items():
        if v.run is None:
            continue
        p = paths[vid] + ([v.module] if v.kind.startswith("module") else [])
        common = shared.get(v.run, d.runs[v.run].modules)
        n = 0
        while n < len(common) and n < len(p) and common[n] == p[n]:
            n += 1
        shared[v.run] = common[:n]
    children: dict[tuple, list[tuple]] = {(): []}
    members: dict[tuple, list[str]] = {(): []}
    for vid, v in d.vertices.items():
        mods = paths[vid]
        if v.run is not None:
            k = len(shared[v.run])
            keys = [("m", m) for m in mods[:k]] + [("r", v.run)] + [("m", m) for m in mods[k:]]
        else:
            keys = [("m", m) for m in mods]
        path: tuple = ()
        for key in keys:
            child = path + (key,)
            if child not in children:
                children[child] = []
                members[child] = []
                children[path].append(child)
            path = child
        members[path].append(vid)
    counter = 0
    stack: list = [("open", ())]
    while stack:
        action, path = stack.pop()
        indent = "  " * (len(path) + 1)
        if action == "close":
            out.append("  " * len(path) + "}")
            continue
        if path:
            out.append("  " * len(path) + f"subgraph cluster_{counter} {{")
            counter += 1
            out.extend(indent + line for line in _cluster_attrs(d, path))
        out.extend(_node_line(d.vertices[vid], indent) for vid in members[path])
        if path:
            stack.append(("close", path))
        stack.extend(("open", child) for child in reversed(children[path]))


def _cluster_attrs(d: Drawing, path: tuple) -> list[str]:
    kind, key = path[-1]
    if kind == "r":
        run = d.runs[key]
        label = f"<B>×{run.count}</B> repeated step, drawn once<BR/>{html_text(run.where)}"
        return ['style="rounded,bold"', "penwidth=2", f'color="{BACK_COLOUR}"', f"label=<{label}>",
                'id="run' + str(key) + '"', 'class="gs_run"']
    parent = next((k for kind_, k in reversed(path[:-1]) if kind_ == "m"), None)
    name = key[len(parent) + 1:] if parent and key.startswith(parent + ".") else key
    mtype = d.module_types.get(key)
    label = html_text(name) + (f" · {html_text(mtype)}" if mtype else "")
    return ['style="rounded,dashed"', 'color="#9e9e9e"', f"label=<{label}>", 'class="gs_module"']


def _beside_consumers(d: Drawing) -> list[str]:
    """A parameter with one consumer sits on its consumer's rank. Left alone, dot puts every input
    at the top of its module's box, the boxes of consecutive blocks overlap in rank and are pushed
    sideways one after the other: a staircase several thousand points wide."""
    inputs: set[str] = set()
    consumers: dict[str, list[str]] = {}
    for e in d.edges:
        if e.back:
            continue
        inputs.add(e.dst)
        consumers.setdefault(e.src, []).append(e.dst)
    lines = []
    for vid, v in d.vertices.items():
        targets = consumers.get(vid, [])
        if v.kind in ("parameter", "frozen") and vid not in inputs and len(set(targets)) == 1:
            lines.append(f"  {{ rank=same; {vid}; {targets[0]}; }}")
    return lines


def _legend(d: Drawing, out: list[str]) -> None:
    """A small grid: a sample of each kind drawn, the root mark, and each edge style used."""
    kinds = [k for k in KIND_STYLES if any(v.kind == k for v in d.vertices.values())]
    out.append("  subgraph cluster_legend {")
    out.append('    label=<<B>legend</B>>; labelloc=b; style="rounded"; color="#bdbdbd"; fontsize=10; id="legend";')
    items: list[list[str]] = []  # each item: the legend node(s) in reading order
    for kind in kinds:
        shape, style, fill, text = KIND_STYLES[kind]
        out.append(f'    legend_{kind} [shape={shape}, style="{style}", fillcolor="{fill}", fontsize=9, '
                   f"label=<{html_text(text)}>];")
        items.append([f"legend_{kind}"])
    if any(v.root for v in d.vertices.values()):
        out.append('    legend_root [shape=box, peripheries=2, penwidth=2, fontsize=9, label=<root: backward() from here>];')
        items.append(["legend_root"])
    samples = [("grad", "style=solid", "gradient flows")]
    if any(e.status == "cut" and not e.back for e in d.edges):
        samples.append(("cut", f'style=dashed, color="{CUT_COLOUR}", fontcolor="{CUT_COLOUR}"', "cut (why · line)"))
    if any(e.status == "constant" and not e.back for e in d.edges):
        samples.append(("constant", f'color="{CONSTANT_COLOUR}"', "no gradient (constant)"))
    if any(e.back for e in d.edges):
        samples.append(("back", f'style=bold, color="{BACK_COLOUR}", fontcolor="{BACK_COLOUR}"',
                        "from the previous step"))
    for name, style, text in samples:
        a, b = f"legend_{name}_a", f"legend_{name}_b"
        out.append(f'    {a} [shape=plaintext, fontsize=9, label=<{html_text(text)}>]; {b} [shape=point, width=0.05];')
        out.append(f"    {a} -> {b} [{style}];")
        items.append([a, b])
    rows = [items[i:i + LEGEND_COLUMNS] for i in range(0, len(items), LEGEND_COLUMNS)]
    for row in rows:
        flat = [n for item in row for n in item]
        out.append("    { rank=same; " + "; ".join(flat) + "; }")
        out.extend(f"    {a[-1]} -> {b[0]} [style=invis];" for a, b in zip(row, row[1:]))
    out.extend(f"    {a[0][0]} -> {b[0][0]} [style=invis];" for a, b in zip(rows, rows[1:]))
    out.append("  }")
    if rows:  # below the picture, not beside it: the legend must not add to the width
        fed = {e.src for e in d.edges if not e.back}
        out.extend(f"  {vid} -> {rows[0][0][0]} [style=invis];" for vid in d.vertices if vid not in fed)
