"""The terminal report: a tree of each root's inputs, then a table of leaves and parameters.

Built from `rich` Text objects (never markup strings), so names from user code are shown as they
are. The walk is iterative, a vertex shared by several consumers is expanded once, and the depth
is limited with an explicit count of what was left out, so an RNN unrolled 20,000 steps stays
both renderable and readable.
"""

from __future__ import annotations

import io

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from gradscope.analyse.graph import GraphView, compiled_note, shape_text
from gradscope.capture import Capture, TensorInfo

DEFAULT_DEPTH = 12

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

    def __init__(self, depth: int | None = DEFAULT_DEPTH):
        self.depth = depth

    def renderables(self, capture: Capture) -> list:
        view = GraphView(capture)
        parts: list = [_header(capture)]
        if not capture.roots:
            parts.append(Text("No graph to show: the script computed nothing that requires grad.", style="dim"))
        shown: set[str] = set()
        for root in capture.roots:
            parts.append(self._root_tree(view, root, shown))
        table = _leaf_table(capture, view)
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
    def _root_tree(self, view: GraphView, root, shown: set[str]) -> Tree:
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
                hidden = _count_hidden(view, current, shown)
                if hidden:
                    branch.add(Text(f"… {hidden} more vertices below (raise --depth to see them)", style="dim"))
                continue
            pending = []
            for edge in edges:
                child_label = Text()
                if not edge.flows_grad:
                    child_label.append("✂ ", style="red")
                child_label.append_text(_vertex_text(view, edge.src))
                if not edge.flows_grad and edge.reason:
                    child_label.append(f"  [cut: {edge.reason}]", style="red")
                pending.append((edge.src, branch.add(child_label), depth + 1, child_label))
            stack.extend(reversed(pending))
        return tree


def _count_hidden(view: GraphView, vid: str, shown: set[str]) -> int:
    seen: set[str] = set()
    stack = [e.src for e in view.inputs.get(vid, [])]
    while stack:
        v = stack.pop()
        if v in seen or v in shown:
            continue
        seen.add(v)
        stack.extend(e.src for e in view.inputs.get(v, []))
    return len(seen)


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


def _leaf_table(capture: Capture, view: GraphView) -> Table | None:
    rows = [t for t in capture.tensors if _in_leaf_table(t)]
    if not rows:
        return None
    table = Table(title="Leaves and parameters", title_justify="left", show_lines=False, box=None,
                  pad_edge=False, header_style="bold")
    for column in ("name", "kind", "requires_grad", "grad from each backward", ".grad at exit", "gradient"):
        table.add_column(column)
    for t in rows:
        got = "".join({True: "✓", False: "✗", None: "·"}[g] for g in t.grads) or "-"
        if t.grad_is_none is None:
            at_exit = "(freed)"
        else:
            at_exit = "None" if t.grad_is_none else "set"
        gradient = ""
        if t.grad_values is not None:
            gradient = _format_values(t.grad_values, t.grad_shape)
        elif t.grad_shape is not None:
            gradient = "[" + ", ".join(str(d) for d in t.grad_shape) + "]"
        where = f" (line {t.line})" if t.name in view.rebinds and t.line else ""
        table.add_row(Text(view.label(t.vid) + where), Text(t.kind), Text(str(t.requires_grad)), Text(got),
                      Text(at_exit), Text(gradient))
    return table


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


def render_text(capture: Capture, depth: int | None = DEFAULT_DEPTH, width: int = 240) -> str:
    return TreeRenderer(depth).render(capture, width)


def print_report(capture: Capture, console: Console, depth: int | None = DEFAULT_DEPTH) -> None:
    console.print(Group(*TreeRenderer(depth).renderables(capture)))
