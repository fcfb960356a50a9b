"""Where gradient flows, where it was cut, and what never carried any: computed once per capture.

Every view (terminal tree, module view, DOT/SVG, HTML) reads these records instead of wording cuts
itself, so a cut is called the same thing everywhere and a constant is never drawn like a cut.

Vertex status (`Statuses.vertex(vid).status`):
- `grad`: carries gradient (a trainable parameter, a leaf requiring grad, a non-leaf, a grad_fn node);
- `cut`: where gradient that could have flowed was removed: a `detach()`/`.data` result, a tensor
  computed under the user's `no_grad` or `inference_mode`, the output of a non-differentiable op on
  inputs that required grad, or a frozen parameter (`requires_grad=False`). It carries a `Cut`;
- `constant`: never carried gradient (data, targets, buffers, running stats, results of ops on
  them). `behind` lists the cuts upstream of it (a frozen stem's output is a constant behind the
  stem's frozen parameters), so views can fold plain constants and still never hide a cut.

Edge status (`Statuses.edge(src, dst).status`), for an edge of the capture (input -> output):
- `grad`: gradient flows along it;
- `cut`: it leaves a cut vertex, or enters one from a vertex that carried gradient (`x -> x.detach()`);
  `reason` says why (`detach() · line 13`, `frozen · line 44`);
- `constant`: no gradient and none was removed here (a constant input; or an input that did not
  require grad when it was used, though it does at exit, `note` says so).

Pure data in, pure data out; no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gradscope.analyse.graph import GraphView
from gradscope.analyse.labels import DETACH_OPS
from gradscope.capture import Capture, InplaceEvent, TensorInfo

CUT_KINDS = ("detached", "no_grad", "inference", "nondiff", "frozen")
GRAD_KINDS = ("parameter", "leaf", "nonleaf")
FREEZE_OPS = ("requires_grad_", "Tensor.requires_grad=")
STALE_NOTE = "did not require grad when used"


@dataclass(frozen=True, slots=True)
class Cut:
    """One place where gradient was removed, said once."""

    vid: str  # the cut vertex (the detached / no_grad / nondiff / inference tensor, or the frozen parameter)
    kind: str  # detached | no_grad | inference | nondiff | frozen
    reason: str  # "detach() · line 13", "no_grad · line 7", "frozen · line 44", "not differentiable (argmax)"
    line: int | None  # the line that cut (froze) it, when known
    module: str | None = None  # for a frozen parameter: the largest module around it whose parameters are all frozen


@dataclass(slots=True)
class VertexStatus:
    status: str  # grad | cut | constant
    cut: Cut | None = None  # set when status is cut
    behind: list[str] = field(default_factory=list)  # for constants: vids of the cuts upstream, nearest first


@dataclass(frozen=True, slots=True)
class EdgeStatus:
    status: str  # grad | cut | constant
    reason: str | None = None  # for cuts: the cut's reason
    line: int | None = None
    note: str | None = None  # for a constant edge from a tensor that required grad later (STALE_NOTE)


@dataclass
class Statuses:
    """Vertices not listed carry gradient (grad_fn nodes, most tensors). Edge statuses are derived
    when asked (a report of a 100,000-node graph asks about a few dozen edges)."""

    vertices: dict[str, VertexStatus]
    cuts: dict[str, Cut]  # cut vid -> Cut, in the order the capture lists the tensors
    inputs: dict[str, list]  # vid -> the capture's edges into it (the graph view's)
    _edges: dict[tuple[str, str], EdgeStatus] = field(default_factory=dict)

    def vertex(self, vid: str) -> VertexStatus:
        return self.vertices.get(vid) or VertexStatus("grad")

    def edge(self, src: str, dst: str) -> EdgeStatus:
        status = self._edges.get((src, dst))
        if status is None:
            edge = next((e for e in self.inputs.get(dst, ()) if e.src == src), None)
            status = EdgeStatus("grad") if edge is None else _edge_status(edge, self.vertices)
            self._edges[(src, dst)] = status
        return status

    def cuts_behind(self, vid: str) -> list[Cut]:
        """The cut itself for a cut vertex, the cuts upstream for a constant, else nothing."""
        status = self.vertex(vid)
        if status.cut is not None:
            return [status.cut]
        return [self.cuts[c] for c in status.behind]


def compute(capture: Capture, view: GraphView | None = None) -> Statuses:
    """Statuses of the vertices of `capture` (one pass; linear in the graph for the usual few cuts,
    bounded by cuts x constants downstream of them otherwise), and of its edges when asked."""
    view = view or GraphView(capture)
    lines = freeze_lines(capture)
    owners = frozen_units(capture)
    vertices: dict[str, VertexStatus] = {}
    cuts: dict[str, Cut] = {}
    for t in capture.tensors:
        status = _tensor_status(view, t)
        if status == "cut":
            cut = _cut_of(t, lines, owners)
            cuts[t.vid] = cut
            vertices[t.vid] = VertexStatus("cut", cut)
        else:
            vertices[t.vid] = VertexStatus(status)
    _propagate_behind(view, vertices, cuts)
    return Statuses(vertices, cuts, view.inputs)


def _tensor_status(view: GraphView, t: TensorInfo) -> str:
    if t.kind in GRAD_KINDS:
        return "grad"
    if t.kind in CUT_KINDS:
        if t.kind == "detached" and t.cut_op in DETACH_OPS and t.detached_from is not None:
            source = view.tensors.get(t.detached_from)
            if source is not None and source.kind == "constant":
                return "constant"  # detaching what never carried gradient removes nothing
        return "cut"
    return "constant"


def _cut_of(t: TensorInfo, freeze_lines: dict[int, int], owners: dict[int, str]) -> Cut:
    if t.kind == "frozen":
        line = freeze_lines.get(t.id)
        return Cut(t.vid, "frozen", f"frozen · line {line}" if line is not None else "frozen (requires_grad=False)",
                   line, owners.get(t.id))
    where = f" · line {t.cut_line}" if t.cut_line is not None else ""
    if t.kind == "detached":
        verb = ".data" if t.cut_op == "Tensor.data" else f"{t.cut_op}()"
        return Cut(t.vid, "detached", f"{verb}{where}", t.cut_line)
    if t.kind == "no_grad":
        return Cut(t.vid, "no_grad", f"no_grad{where}", t.cut_line)
    if t.kind == "inference":
        return Cut(t.vid, "inference", f"inference_mode{where}", t.cut_line)
    what = f"not differentiable ({t.op})" if t.op else "not differentiable"
    return Cut(t.vid, "nondiff", what + (f" · line {t.line}" if t.line is not None else ""), t.line)


def freeze_lines(capture: Capture) -> dict[int, int]:
    """Frozen tensor id -> the line that set requires_grad=False on it (else the line that made it).
    Read from the tensor itself (format 7: no cap on events can lose it), else from its events."""
    lines: dict[int, int] = {t.id: t.frozen_line for t in capture.tensors if t.frozen_line is not None}
    for e in capture.events:
        tid, line = getattr(e, "tensor", None), e.line
        if isinstance(e, InplaceEvent) and tid is not None and line is not None and e.op in FREEZE_OPS:
            lines.setdefault(tid, line)
    for t in capture.tensors:  # created frozen: the line that made it
        if t.kind == "frozen" and t.id not in lines and t.line is not None:
            lines[t.id] = t.line
    return lines


def module_entries(capture: Capture) -> list[tuple[str, str | None, list[int]]]:
    """(name, type, parameter ids) of each module the capture lists; module records are free-form
    dicts, so anything malformed in one is skipped rather than trusted."""
    out = []
    for m in capture.modules:
        name, mtype, params = m.get("name"), m.get("type"), m.get("params", [])
        if not isinstance(name, str):
            continue
        params = [p for p in params if isinstance(p, int) and not isinstance(p, bool)] \
            if isinstance(params, list) else []
        out.append((name, mtype if isinstance(mtype, str) else None, params))
    return out


def frozen_units(capture: Capture) -> dict[int, str]:
    """Frozen parameter id -> the largest module containing it whose parameters are all frozen
    (`model.stem`, not `model.stem.0` and `model.stem.1`); the deepest module holding it otherwise."""
    kinds = {t.id: t.kind for t in capture.tensors}
    owner: dict[int, str] = {}
    total: dict[str, int] = {}
    frozen: dict[str, int] = {}
    for name, _, params in module_entries(capture):
        for p in params:
            if p in owner and owner[p].count(".") >= name.count("."):
                continue
            owner[p] = name
    for p, name in owner.items():
        for prefix in _prefixes(name):
            total[prefix] = total.get(prefix, 0) + 1
            if kinds.get(p) == "frozen":
                frozen[prefix] = frozen.get(prefix, 0) + 1
    units: dict[int, str] = {}
    for p, name in owner.items():
        if kinds.get(p) != "frozen":
            continue
        unit = name
        for prefix in _prefixes(name):  # shortest first: the first fully frozen one is the largest
            if frozen.get(prefix) == total.get(prefix):
                unit = prefix
                break
        units[p] = unit
    return units


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def describe_cuts(cuts: list[Cut], limit: int = 3) -> str:
    """One phrase for a set of cuts, each place once: `frozen model.stem · line 44; detach() · line 13`."""
    phrases: list[str] = []
    for cut in cuts:
        if cut.kind == "frozen":
            where = f" · line {cut.line}" if cut.line is not None else ""
            phrase = f"frozen {cut.module}{where}" if cut.module else cut.reason
        else:
            phrase = cut.reason
        if phrase not in phrases:
            phrases.append(phrase)
    more = len(phrases) - limit
    return "; ".join(phrases[:limit]) + (f"; {more} more cut{'s' if more > 1 else ''}" if more > 0 else "")


def _propagate_behind(view: GraphView, vertices: dict[str, VertexStatus], cuts: dict[str, Cut]) -> None:
    """Each constant learns which cuts lie upstream of it: walk down from every cut through constants."""
    for cut_vid in cuts:
        stack = [e.dst for e in view.consumers.get(cut_vid, [])]
        seen: set[str] = set()
        while stack:
            vid = stack.pop()
            if vid in seen:
                continue
            seen.add(vid)
            status = vertices.get(vid)
            if status is None or status.status != "constant":
                continue
            status.behind.append(cut_vid)
            stack.extend(e.dst for e in view.consumers.get(vid, []))


def _edge_status(e, vertices: dict[str, VertexStatus]) -> EdgeStatus:
    if e.flows_grad:
        return EdgeStatus("grad")
    src = vertices.get(e.src) or VertexStatus("grad")
    dst = vertices.get(e.dst) or VertexStatus("grad")
    if src.cut is not None:
        return EdgeStatus("cut", src.cut.reason, src.cut.line)
    if dst.cut is not None and src.status == "grad":
        return EdgeStatus("cut", dst.cut.reason, dst.cut.line)
    return EdgeStatus("constant", note=STALE_NOTE if src.status == "grad" else None)
