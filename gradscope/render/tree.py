"""The terminal report: a tree of each root's inputs, then a table of leaves and parameters.

Built from `rich` Text objects (never markup strings), so names from user code are shown as they
are. The walk is iterative, a vertex shared by several consumers is expanded once, and the depth
is limited with an explicit count of what was left out, so an RNN unrolled 20,000 steps stays
both renderable and readable.
"""

from __future__ import annotations

import io
import math

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from gradscope.analyse.findings.context import listed
from gradscope.analyse.graph import GraphView, compiled_note, shape_text
from gradscope.analyse.modules import param_grad_norm
from gradscope.analyse.statuses import Statuses, describe_cuts, module_entries
from gradscope.analyse.statuses import compute as compute_statuses
from gradscope.capture import Capture, TensorInfo
from gradscope.render.module_view import has_modules, module_renderables
from gradscope.render.registry import check_options

DEFAULT_DEPTH = 12
CONSTANTS_NAMED = 4
NAME_WIDTH = 40  # longer names in the table are shortened in the middle
VALUES_SHOWN = 4  # gradients with more elements are shown as norm and shape  # folded constant inputs named on their line before "and N more"

ORIGIN_DROPPED = "what made it was not kept: its cut chain is deeper than recording keeps"
KIND_STYLES = {
    "parameter": "bold green",
    "frozen": "cyan",
    "nonleaf": "yellow",
    "leaf": "bold green",
    "inference": "magenta",
    "detached": "red",
    "no_grad": "red",
    "nondiff": "red",
    "constant": "dim",
}


class TreeRenderer:
    output_file_extension = "txt"
    output_is_binary = False

    def __init__(self, depth: int | None = DEFAULT_DEPTH, view: str | None = None, show_all: bool = False):
        check_options({"view": view})
        self.depth = depth
        self.view = view
        self.show_all = show_all

    def renderables(self, capture: Capture) -> list:
        view = GraphView(capture)
        parts: list = [_header(capture)]
        frame_table = _raise_frame_table(capture)
        if frame_table is not None:
            parts.append(frame_table)
        statuses = compute_statuses(capture, view)
        mode = self.view or ("module" if has_modules(capture) else "graph")
        if mode in ("module", "all"):
            parts.extend(module_renderables(capture, view, statuses))
        if mode in ("graph", "all") or not has_modules(capture):
            parts.extend(self._graph(capture, view, statuses))
        return parts

    def _graph(self, capture: Capture, view: GraphView, statuses: Statuses) -> list:
        parts: list = []
        if not capture.roots:  # the claim holds only when every event was recorded
            why = ("the script computed nothing that requires grad" if not capture.diagnostics else
                   "none was recorded, and some events could not be (see below)")
            parts.append(Text(f"No graph to show: {why}.", style="dim"))
        shown: set[str] = set()
        for root in capture.roots:
            parts.append(self._root_tree(view, statuses, root, shown))
        table = _leaf_table(capture, view, self.show_all)
        if table is not None:
            parts.append(table)
        return parts

    def render(self, capture: Capture, width: int = 240) -> str:
        buffer = io.StringIO()
        console = Console(file=buffer, width=width, color_system=None, no_color=True, highlight=False,
                          emoji=False, legacy_windows=False, soft_wrap=False)
        for part in self.renderables(capture):
            console.print(part)
        return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())

    # -- one root ---------------------------------------------------------------------------------
    def _root_tree(self, view: GraphView, statuses: Statuses, root, shown: set[str]) -> Tree:
        vid = f"t{root.tensor}"
        title = Text("root ", style="bold")
        title.append_text(_vertex_text(view, vid))
        call = {"backward": ".backward()", "autograd.backward": "autograd.backward()",
                "autograd.grad": "autograd.grad()", "implicit": "top-level result (no backward call)",
                "selected": "selected with --root"}.get(root.call, root.call)
        where = f" at {root.file}:{root.line}" if root.line is not None and root.file else ""
        title.append(f"  ← {call}{where}", style="bold")
        if root.step is not None:
            title.append(f" (call #{root.step}", style="dim")
            title.append(f", this line ran {root.calls}×)" if root.calls > 1 else ")", style="dim")
        tree = Tree(title, guide_style="dim")
        if root.raised:
            tree.add(Text(f"✗ this call raised {root.raised.splitlines()[0]}", style="bold red"))
        if vid in shown:
            tree.add(Text("(graph shown above)", style="dim"))
            return tree
        # Depth-first in output order: a vertex is expanded where it is first printed, and marked
        # "(see above)" wherever it appears again.
        stack = [(vid, tree, 0, title)]
        while stack:
            current, branch, depth, label = stack.pop()
            edges = view.inputs.get(current, [])
            if current in shown:
                if edges and branch is not tree:
                    label.append("  (see above)", style="dim")
                continue
            shown.add(current)
            if not edges:
                continue
            if self.depth is not None and depth >= self.depth:
                hidden = _hidden(view, current, shown)
                if hidden:
                    branch.add(_elided_text(statuses, hidden))
                continue
            pending, constants = [], []
            for edge in edges:
                status = statuses.edge(edge.src, edge.dst)
                source = statuses.vertex(edge.src)
                if status.status == "constant" and source.status == "constant" and not source.behind:
                    constants.append(edge.src)  # data, targets, buffers: one line per node, not a cut
                    continue
                child_label = Text()
                cut = status.status == "cut" and not _cut_up_its_chain(view, edge.src)
                if cut:
                    child_label.append("✂ ", style="red")
                child_label.append_text(_vertex_text(view, edge.src))
                if cut:
                    child_label.append(f"  [cut: {status.reason}]", style="red")
                elif status.status == "cut":
                    child_label.append(f"  (no gradient: {status.reason})", style="dim")
                elif status.note:
                    child_label.append(f"  ({status.note})", style="dim")
                elif source.behind:
                    child_label.append(f"  (no gradient: {describe_cuts(statuses.cuts_behind(edge.src))})",
                                       style="dim")
                pending.append((edge.src, branch.add(child_label), depth + 1, child_label))
            if constants:
                branch.add(_constants_text(view, constants))
            stack.extend(reversed(pending))
        return tree


def _cut_up_its_chain(view: GraphView, vid: str) -> bool:
    """A tensor made under no_grad / inference_mode from inputs that had no gradient (`b = a + 1` after
    `a = w * 2`, both under one `no_grad`): no gradient was removed where it was made, so its edges are
    not drawn as cuts; the one that removed it is, up the chain (unless that start was not kept)."""
    t = view.tensor_of(vid)
    return (t is not None and t.kind in ("no_grad", "inference") and t.op is not None
            and not t.inputs_required_grad and not t.origin_dropped)


def _hidden(view: GraphView, vid: str, shown: set[str]) -> list[str]:
    seen: set[str] = set()
    order: list[str] = []
    stack = [e.src for e in view.inputs.get(vid, [])]
    while stack:
        v = stack.pop()
        if v in seen or v in shown:
            continue
        seen.add(v)
        order.append(v)
        stack.extend(e.src for e in view.inputs.get(v, []))
    return order


def _elided_text(statuses: Statuses, hidden: list[str]) -> Text:
    """Elision says what it hides: how many vertices, and every cut among them."""
    cuts = [statuses.cuts[v] for v in hidden if v in statuses.cuts]
    inside = f": {describe_cuts(cuts)}" if cuts else ""
    text = Text(f"… {len(hidden)} more vertices{inside} (raise --depth to see them)", style="dim")
    if cuts:
        text.stylize("red", 0, len(text))
    return text


def _constants_text(view: GraphView, vids: list[str]) -> Text:
    names = []
    for v in vids:
        made_from = [view.label(e.src) for e in view.inputs.get(v, [])]
        t = view.tensor_of(v)
        dropped = f" ({ORIGIN_DROPPED})" if t is not None and t.origin_dropped else ""
        names.append(view.label(v) + (f" of {', '.join(made_from)}" if made_from else "") + dropped)
    shown = listed(names, CONSTANTS_NAMED)
    return Text(f"· constant input{'s' if len(names) > 1 else ''} (no gradient, nothing cut): {shown}", style="dim")


def _vertex_text(view: GraphView, vid: str) -> Text:
    text = Text()
    t = view.tensor_of(vid)
    if t is None:
        node = view.node_of(vid)
        text.append(node.name if node else vid, style="yellow")
        detail = []
        if node is not None and node.op:
            detail.append(f"from {node.op}")
        if node is not None and node.module:
            detail.append(f"in {node.module}")
        if detail:
            text.append("  (" + ", ".join(detail) + ")", style="dim")
        where = view.where(vid)
        if where:
            text.append(f"  {where}", style="dim")
        note = compiled_note(node.name if node is not None else None)
        if note:
            text.append(f"  ({note})", style="magenta")
        return text
    text.append(view.label(vid), style="bold")
    text.append("  ")
    text.append(t.kind, style=KIND_STYLES.get(t.kind, ""))
    if t.grad_fn:
        text.append(f"  {t.grad_fn}")
    text.append(f"  {shape_text(t)}", style="dim")
    where = view.where(vid)
    if where:
        text.append(f"  {where}", style="dim")
    note = compiled_note(t.grad_fn)
    if note:
        text.append(f"  ({note})", style="magenta")
    extra = _kind_detail(view, t)
    if extra:
        text.append(f"  {extra}", style=KIND_STYLES.get(t.kind, ""))
    if t.origin_dropped:
        text.append(f"  ({ORIGIN_DROPPED})", style="dim")
    return text


def _kind_detail(view: GraphView, t: TensorInfo) -> str | None:
    if t.kind == "detached":
        verb = ".data" if t.cut_op == "Tensor.data" else f"{t.cut_op}()"
        if t.detached_from is not None and t.detached_from in view.tensors:
            source = view.tensors[t.detached_from]
            src_where = f" line {source.line}" if source.line is not None else ""
            return f"(detached from {view.label(source.vid)}{src_where} by {verb} at line {t.cut_line})"
        return f"(by {verb} at line {t.cut_line})"
    if t.kind == "no_grad":
        return f"(computed under no_grad, line {t.cut_line})"
    if t.kind == "inference":
        return f"(created under inference_mode, line {t.cut_line})" if t.cut_line else "(inference tensor)"
    if t.kind == "nondiff":
        return f"({t.op} has no gradient)"
    if t.kind == "leaf" and t.is_leaf:
        return "(gradient accumulates in .grad)"
    return None


def stop_note(capture: Capture) -> str:
    """What the header says when --stop-after ended the script."""
    return f"stopped after backward call {capture.stopped_after} (--stop-after)"


def _header(capture: Capture) -> Text:
    text = Text("gradscope ", style="bold")
    text.append(capture.script.replace("\\", "/").rsplit("/", 1)[-1])
    code = capture.exit.get("code")
    text.append(f" · exit {code}")
    exc = capture.exit.get("exception")
    if exc:
        line = f" at line {exc.get('line')}" if exc.get("line") is not None else ""
        text.append(f" · raised {exc.get('type')}{line}", style="bold red")
    n = capture.backward_calls
    text.append(f" · {n} backward call{'s' if n != 1 else ''}")
    recorded = sum(1 for r in capture.roots if r.step is not None)
    if n:
        text.append(f", {recorded} graph{'s' if recorded != 1 else ''} recorded")
    if capture.stopped_after is not None:
        text.append(f" · {stop_note(capture)}", style="bold")
    return text


def _raise_frame_table(capture: Capture) -> Table | None:
    """The tensors the raising frame held when the script's exception left it (a traceback's locals)."""
    exc = capture.exit.get("exception")
    frames = [f for f in (exc.get("frames") or []) if f["locals"]] if exc else []
    if not frames:
        return None
    frame = frames[-1]
    index = capture._tensor_index()
    where = "at module level" if frame["function"] == "<module>" else f"in {frame['function']}()"
    table = Table(title=f"Tensors {where} at line {frame['line']}, where {exc.get('type')} was raised",
                  title_justify="left", box=None, pad_edge=False)
    for column in ("name", "kind", "requires_grad", "grad_fn", "shape", "made at"):
        table.add_column(column, no_wrap=True)
    for name, tid in frame["locals"].items():
        t = index.get(tid)
        if t is not None:
            table.add_row(Text(shorten_middle(name, NAME_WIDTH)), t.kind, str(t.requires_grad), t.grad_fn or "None",
                          shape_text(t), f"line {t.line}" if t.line is not None else "")
    return table


def _leaf_table(capture: Capture, view: GraphView, show_all: bool = False) -> Table | None:
    """Leaves and parameters: parameters one row per module (per tensor with --all), other tensors
    one row per name and line (a loop variable rebound each step is one row with a count)."""
    buffers = _buffer_ids(capture) if not show_all else set()
    owners = {} if show_all else _param_owners(capture)
    groups: dict[tuple, list[TensorInfo]] = {}
    for t in capture.tensors:
        if not _in_leaf_table(t) or t.id in buffers:
            continue
        if t.id in owners:
            key: tuple = ("module", owners[t.id])
        elif show_all:
            key = ("tensor", t.id)
        else:
            key = ("name", t.name, t.scope, t.param_name, t.line, t.kind)
        groups.setdefault(key, []).append(t)
    if not groups:
        return None
    table = Table(title="Leaves and parameters", title_justify="left", show_lines=False, box=None,
                  pad_edge=False, header_style="bold")
    for column in ("name", "kind", "requires_grad", "grad from each backward", ".grad at exit", "gradient"):
        table.add_column(column, no_wrap=True)
    for key, members in groups.items():
        first = members[0]
        if key[0] == "module":
            name = f"{key[1]} ({len(members)} parameter{'s' if len(members) > 1 else ''})"
        else:
            name = view.label(first.vid) + (f" (line {first.line})" if first.name in view.rebinds and first.line else "")
            if len(members) > 1:
                name += f" ×{len(members)}"
        table.add_row(Text(shorten_middle(name, NAME_WIDTH)), Text(_same(t.kind for t in members)),
                      Text(_same(str(t.requires_grad) for t in members)), Text(_got(members)),
                      Text(_same(_at_exit(t) for t in members)), Text(_gradient(members)))
    return table


def _same(values) -> str:
    distinct = list(dict.fromkeys(values))
    return distinct[0] if len(distinct) == 1 else "/".join(distinct)


def _got(members: list[TensorInfo]) -> str:
    width = max(len(t.grads) for t in members)
    marks = []
    for i in range(width):
        got = [t.grads[i] for t in members if i < len(t.grads)]
        mark = True if any(g is True for g in got) else False if any(g is False for g in got) else None
        marks.append({True: "✓", False: "✗", None: "·"}[mark])
    return "".join(marks) or "-"


def _at_exit(t: TensorInfo) -> str:
    if t.grad_is_none is None:
        return "(freed)"
    return "None" if t.grad_is_none else "set"


def _gradient(members: list[TensorInfo]) -> str:
    """Small gradients as values; else the norm (when its values are known) and the shape; never a
    vector wrapped over lines."""
    with_grad = [t for t in members if t.grad_shape is not None]
    if not with_grad:
        return ""
    if len(members) == 1:
        t = with_grad[0]
        shape = "[" + ", ".join(str(d) for d in t.grad_shape) + "]"
        if t.grad_values is not None and len(t.grad_values) <= VALUES_SHOWN:
            return _format_values(t.grad_values, t.grad_shape)
        norm = param_grad_norm(t)
        return f"norm {norm:.3g} · {shape}" if norm is not None else shape
    norms = [param_grad_norm(t) for t in with_grad]
    count = f"{len(with_grad)} tensor{'s' if len(with_grad) > 1 else ''}"
    if any(n is None for n in norms):
        return count
    return f"norm {math.sqrt(sum(n * n for n in norms)):.3g} · {count}"


def shorten_middle(name: str, width: int) -> str:
    """`model.blocks.0.conv1.weight` -> `model.…conv1.weight`: the head and the distinguishing tail
    kept (`in_proj_weight` vs `in_proj_bias`). For display only: files and patterns use full names."""
    if len(name) <= width:
        return name
    parts = name.split(".")
    tail = parts[-1]
    i = len(parts) - 2
    while i > 0 and len(parts[0]) + 2 + len(parts[i]) + 1 + len(tail) <= width:
        tail = parts[i] + "." + tail
        i -= 1
    short = f"{parts[0]}.…{tail}" if len(parts) > 1 else name
    if len(short) > width:
        keep = width - 1
        short = name[:keep // 3] + "…" + name[-(keep - keep // 3):]
    return short


def _param_owners(capture: Capture) -> dict[int, str]:
    """Parameter id -> the deepest module holding it."""
    owners: dict[int, str] = {}
    for name, _, params in module_entries(capture):
        for p in params:
            if p not in owners or name.count(".") > owners[p].count("."):
                owners[p] = name
    return owners


def _buffer_ids(capture: Capture) -> set[int]:
    """Module buffers (running stats): constants named after their module, not leaves."""
    modules = {name for name, _, _ in module_entries(capture)}
    return {t.id for t in capture.tensors if t.kind == "constant" and t.name and t.scope is None
            and "." in t.name and t.name.rsplit(".", 1)[0] in modules}


_FACTORIES = frozenset({"tensor", "as_tensor", "ones", "zeros", "full", "empty", "rand", "randn", "randint",
                        "arange", "linspace", "eye", "ones_like", "zeros_like", "rand_like", "randn_like",
                        "full_like", "empty_like"})


def _in_leaf_table(t: TensorInfo) -> bool:
    """Leaves and parameters, plus the named tensors users ask "why is .grad None?" about."""
    if t.kind in ("parameter", "frozen", "leaf") or t.grad_is_none is False:
        return True
    if not t.name:
        return False
    return t.kind in ("detached", "no_grad") or (t.kind == "constant" and t.op in _FACTORIES)


def _format_values(values, shape) -> str:
    def fmt(v):
        if isinstance(v, float):
            text = f"{v:.4g}"
            return text if any(c in text for c in ".enai") else text + "."
        return str(v)

    return "[" + ", ".join(fmt(v) for v in values) + "]"


def _renderer(options: dict | None) -> TreeRenderer:
    options = options or {}
    return TreeRenderer(options.get("depth", DEFAULT_DEPTH), options.get("view"), bool(options.get("all")))


def render_text(capture: Capture, options: dict | None = None, width: int = 240) -> str:
    return _renderer(options).render(capture, width)


def print_report(capture: Capture, console: Console, options: dict | None = None) -> None:
    header, *rest = _renderer(options).renderables(capture)
    console.print(header, soft_wrap=True)  # one line at any width: scripts and users grep it
    console.print(Group(*rest))
