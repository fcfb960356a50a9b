"""A read-only view of a capture's graph: vertices, their inputs, and how to describe them.

Shared by the tree, DOT and HTML renderers and by the findings, so that all of them agree on
what a vertex is called and which inputs it has. No torch here.
"""

from __future__ import annotations

from gradscope.capture import Capture, EdgeInfo, NodeInfo, TensorInfo


class GraphView:
    def __init__(self, capture: Capture):
        self.capture = capture
        self.tensors: dict[int, TensorInfo] = {t.id: t for t in capture.tensors}
        self.nodes: dict[int, NodeInfo] = {n.id: n for n in capture.nodes}
        self.inputs: dict[str, list[EdgeInfo]] = {}
        self.consumers: dict[str, list[EdgeInfo]] = {}
        for edge in capture.edges:
            self.inputs.setdefault(edge.dst, []).append(edge)
            self.consumers.setdefault(edge.src, []).append(edge)
        # a tensor whose grad_fn node is known is drawn as that tensor; name the anonymous nodes
        self.rebinds = _rebound_names(capture.tensors)

    def tensor_of(self, vid: str) -> TensorInfo | None:
        return self.tensors.get(int(vid[1:])) if vid.startswith("t") else None

    def node_of(self, vid: str) -> NodeInfo | None:
        if vid.startswith("n"):
            return self.nodes.get(int(vid[1:]))
        t = self.tensor_of(vid)
        if t is not None and t.node is not None:
            return self.nodes.get(t.node)
        return None

    def grad_fn(self, vid: str) -> str | None:
        """The grad_fn class of a vertex: its tensor's, else its node's."""
        t = self.tensor_of(vid)
        if t is not None:
            return t.grad_fn
        node = self.node_of(vid)
        return node.name if node is not None else None

    def line(self, vid: str) -> int | None:
        """The line that made a vertex: its tensor's, else its node's."""
        return self.place(vid)[1]

    def label(self, vid: str) -> str:
        """The name a user would recognise: variable or parameter name, else the op."""
        t = self.tensor_of(vid)
        if t is not None:
            return tensor_label(t, self.rebinds)
        node = self.node_of(vid)
        if node is None:
            return vid
        return node.name

    def place(self, vid: str) -> tuple[str | None, int | None]:
        """(file, line) that made a vertex: its tensor's, else its node's."""
        t = self.tensor_of(vid)
        if t is not None:
            return t.file, t.line
        node = self.node_of(vid)
        return (node.file, node.line) if node is not None else (None, None)

    def where(self, vid: str) -> str | None:
        file, line = self.place(vid)
        if line is None:
            return None
        return f"{file}:{line}" if file else f"line {line}"

    def root_vids(self) -> list[str]:
        seen, out = set(), []
        for root in self.capture.roots:
            vid = f"t{root.tensor}"
            if vid not in seen:
                seen.add(vid)
                out.append(vid)
        return out


    def upstream(self, start, stop=frozenset()) -> set[str]:
        """Every vertex `start` reads, `start` included, without entering `stop` (an explicit walk:
        graphs are deep)."""
        seen = set(start)
        stack = list(seen)
        while stack:
            for edge in self.inputs.get(stack.pop(), []):
                if edge.src not in seen and edge.src not in stop:
                    seen.add(edge.src)
                    stack.append(edge.src)
        return seen

    def upstream_of_roots(self) -> set[str]:
        """Every vertex some backward root reads, the roots included."""
        return self.upstream(self.root_vids())


def tensor_label(t: TensorInfo, rebinds: set[str] | None = None) -> str:
    if t.param_name:
        return t.param_name
    if t.name:
        name = t.name
        if t.scope:
            name = f"{name} (in {t.scope})"
        return name
    if t.op:
        return f"({t.op})"
    if t.grad_fn:
        return t.grad_fn
    what = "nn.Parameter" if t.is_parameter else "tensor"  # no name, op or grad_fn: say where it was made
    return f"({what}, line {t.line})" if t.line is not None else f"({what})"


def _rebound_names(tensors) -> set[str]:
    """Names bound to more than one tensor (e.g. `x = x * 2`): shown with their lines."""
    counts: dict[str, int] = {}
    for t in tensors:
        if t.name and not t.param_name:
            counts[t.name] = counts.get(t.name, 0) + 1
    return {name for name, n in counts.items() if n > 1}


COMPILED_NOTE = "a torch.compile'd region: the ops inside it are not visible to gradscope"


def compiled_note(grad_fn: str | None) -> str | None:
    """AOTAutograd leaves one opaque backward node per compiled region: say so where it is shown."""
    return COMPILED_NOTE if grad_fn and grad_fn.startswith("CompiledFunction") else None


def shape_text(t: TensorInfo) -> str:
    shape = "[" + ", ".join(str(d) for d in t.shape) + "]" if t.shape is not None else "[?]"
    return f"{shape} {t.dtype}" if t.dtype else shape
