"""Gradient flow per `nn.Module`: what the module view shows, computed from the capture alone.

For every module the script made: trainable and frozen parameter counts (its submodules'
included, a tied weight counted once), the line that froze it, whether each recorded backward gave
any of its parameters a gradient, the cuts entering it (from `analyse/statuses.py`), and the
norm of its gradient right after the latest recorded backward (from the capture's grad_health
norms; captures without them: of `.grad` at exit, where its values were kept). Then `fold_rows` decides what the view
prints: it expands a module only where its children differ (a frozen/trainable mix, a cut
inside, a backward that reaches one child and not another) and folds runs of identical siblings
(`blocks.0–2  BasicBlock ×3`). No torch here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from gradscope.analyse.graph import GraphView
from gradscope.analyse.norms import latest_norm, norm_history
from gradscope.analyse.statuses import Cut, Statuses, freeze_lines, module_entries
from gradscope.capture import Capture, TensorInfo

_LAST_INDEX = re.compile(r"^(.*)\.(\d+)$")


@dataclass
class ModuleStatus:
    name: str
    type: str | None
    parent: str | None
    children: list[str] = field(default_factory=list)
    params: list[int] = field(default_factory=list)  # every parameter in it and its submodules, once each
    trainable: int = 0
    frozen: int = 0
    frozen_lines: list[int] = field(default_factory=list)
    reached: list[bool | None] = field(default_factory=list)  # per recorded backward; None: nothing to reach
    called: bool = True
    cuts_in: list[Cut] = field(default_factory=list)  # cuts whose tensor enters an op of this module from outside
    grad_norm: float | None = None  # of its parameters' .grad together, after `grad_norm_call`
    grad_norm_call: int | None = None  # that backward call (index among all); None: at exit (no norms recorded)

    @property
    def depth(self) -> int:
        return self.name.count(".")


@dataclass
class Row:
    """One line of the module view: a module, or identical modules folded into one (`blocks.0–2`)."""

    members: list[ModuleStatus]
    level: int = 0
    open: bool = False  # its children have rows of their own

    @property
    def module(self) -> ModuleStatus:
        return self.members[0]

    @property
    def count(self) -> int:
        return len(self.members)

    @property
    def label(self) -> str:
        return fold_names([m.name for m in self.members])


def recorded_roots(capture: Capture) -> list[int]:
    """Indices into capture.roots of the backward calls whose graph was recorded."""
    return [i for i, r in enumerate(capture.roots) if r.step is not None]


def module_statuses(capture: Capture, statuses: Statuses, view: GraphView | None = None) -> dict[str, ModuleStatus]:
    """Module name -> status, in the capture's order (parents before children)."""
    view = view or GraphView(capture)
    tensors = view.tensors
    lines = freeze_lines(capture)
    roots = recorded_roots(capture)
    history = norm_history(capture) if has_norms(capture) else None
    out: dict[str, ModuleStatus] = {}
    entries = module_entries(capture)
    called = {m.get("name"): m.get("called", True) is not False for m in capture.modules
              if isinstance(m.get("name"), str)}
    for name, mtype, _ in entries:
        if name not in out:
            out[name] = ModuleStatus(name, mtype, None, called=called.get(name, True))
    for name, status in out.items():
        parent = _parent(name, out)
        status.parent = parent
        if parent is not None:
            out[parent].children.append(name)
    for name, _, params in entries:
        for p in params:
            ancestor: str | None = name
            while ancestor is not None:
                status = out[ancestor]
                if p not in status.params:
                    status.params.append(p)
                ancestor = status.parent
    for status in out.values():
        params = [tensors[p] for p in status.params if p in tensors]
        status.trainable = sum(1 for t in params if t.kind != "frozen")
        status.frozen = sum(1 for t in params if t.kind == "frozen")
        status.frozen_lines = sorted({lines[t.id] for t in params if t.kind == "frozen" and t.id in lines})
        status.reached = [_reached(params, i) for i in roots]
        if history is None:
            status.grad_norm = _norm(params)
        else:
            recorded = latest_norm(history, status.params)
            if recorded is not None:
                status.grad_norm, status.grad_norm_call = recorded.value, recorded.call
        if status.children and not status.called:
            status.called = any(out[c].called for c in status.children)
    _cuts_into(view, statuses, out)
    return out


def _parent(name: str, known: dict) -> str | None:
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:i])
        if candidate in known:
            return candidate
    return None


def _reached(params: list[TensorInfo], i: int) -> bool | None:
    got = [t.grads[i] for t in params if i < len(t.grads)]
    if not got or all(g is None for g in got):
        return None
    return any(g is True for g in got)


def has_norms(capture: Capture) -> bool:
    """The run took gradient norms after each backward call (format 5 on, without --no-grad-norms)."""
    return capture.grad_health is not None and capture.grad_health.norms


def param_grad_norm(t: TensorInfo) -> float | None:
    """The norm of `t.grad` at exit, from the values the capture keeps (small gradients only): for
    captures without recorded norms (`norm_history` has the norms after each recorded call)."""
    if t.grad_values is None:
        return None
    try:
        return math.sqrt(sum(float(v) ** 2 for v in t.grad_values))
    except (TypeError, ValueError):
        return None


def _norm(params: list[TensorInfo]) -> float | None:
    with_grad = [t for t in params if t.grad_is_none is False]
    if not with_grad:
        return None
    norms = [param_grad_norm(t) for t in with_grad]
    if any(n is None for n in norms):
        return None
    return math.sqrt(sum(n * n for n in norms))


def module_of(view: GraphView, vid: str) -> str | None:
    """The module whose forward made this vertex (for a parameter: the module holding it)."""
    t = view.tensor_of(vid)
    if t is not None and t.module:
        return t.module
    node = view.node_of(vid)
    return node.module if node is not None else None


def _cuts_into(view: GraphView, statuses: Statuses, out: dict[str, ModuleStatus]) -> None:
    """A non-frozen cut is listed on the module whose op reads it (frozen modules say `frozen` themselves)."""
    for vid, cut in statuses.cuts.items():
        if cut.kind == "frozen":
            continue
        source = module_of(view, vid)
        for edge in view.consumers.get(vid, []):
            target = module_of(view, edge.dst)
            if target is None or target not in out:
                continue
            if source is not None and (target == source or target.startswith(source + ".")):
                continue  # made and read inside the same module: shown where the module is
            if cut not in out[target].cuts_in:
                out[target].cuts_in.append(cut)


def signature(status: ModuleStatus, statuses: dict[str, ModuleStatus]) -> tuple:
    """What a row says, names aside: two siblings with equal signatures fold into one row."""
    return (status.type, status.trainable, status.frozen, tuple(status.frozen_lines), tuple(status.reached),
            status.called, tuple(c.reason for c in status.cuts_in),
            tuple(signature(statuses[c], statuses) for c in status.children))


def uniform(status: ModuleStatus, statuses: dict[str, ModuleStatus]) -> bool:
    """Nothing inside differs from the module's own row: all frozen or all trainable, every backward
    reaching all of it or none of it, and no cut entering a submodule."""
    stack = list(status.children)
    while stack:
        child = statuses[stack.pop()]
        if child.cuts_in:
            return False
        if child.params and (bool(child.frozen) != bool(status.frozen) or bool(child.trainable) != bool(status.trainable)
                             or child.reached != status.reached):
            return False
        if child.called != status.called:
            return False
        stack.extend(child.children)
    return True


ROW_BUDGET = 24  # uniform modules are opened while the view stays within this many rows


def fold_rows(statuses: dict[str, ModuleStatus], budget: int = ROW_BUDGET) -> list[Row]:
    """Rows in tree order. A module whose inside differs (a frozen/trainable mix, a cut entering a
    submodule, a backward reaching only part of it) is always opened; a uniform one stands for its
    subtree, and is opened too (shallowest first) while the rows stay within `budget`."""
    opened: set[str] = set()
    rows = _rows(statuses, opened)
    tried: set[str] = set()
    while True:
        closed = [r for r in rows if r.module.children and not r.open and r.module.name not in tried]
        if not closed:
            return rows
        candidate = min(closed, key=lambda r: r.level)
        tried.add(candidate.module.name)
        trial = _rows(statuses, opened | {candidate.module.name})
        if len(trial) <= budget:
            opened.add(candidate.module.name)
            rows = trial


def _rows(statuses: dict[str, ModuleStatus], opened: set[str]) -> list[Row]:
    rows: list[Row] = []
    tops = [s for s in statuses.values() if s.parent is None]
    # an explicit stack, so a deep module tree cannot hit the recursion limit
    pending = [(group, 0) for group in reversed(_groups([tops], statuses))]
    while pending:
        members, level = pending.pop()
        first = members[0]
        if not first.params and not first.cuts_in:
            continue  # ReLU, Dropout: nothing about gradient to say
        row = Row(members, level)
        row.open = bool(first.children) and (first.name in opened or not uniform(first, statuses))
        rows.append(row)
        if row.open:
            children = [[statuses[c] for c in m.children] for m in members]
            pending.extend((group, level + 1) for group in reversed(_groups(children, statuses)))
    return rows


def _groups(sibling_lists: list[list[ModuleStatus]], statuses) -> list[list[ModuleStatus]]:
    """Runs of identical siblings found in the first list, taken from every list (the members of a
    folded row have the same children, position by position)."""
    out = []
    position = 0
    for first, count in _runs(sibling_lists[0], statuses):
        out.append([siblings[position + j] for siblings in sibling_lists for j in range(count)
                    if position + j < len(siblings)])
        position += count
    return out


def fold_names(names: list[str]) -> str:
    """`a.0.b`, `a.1.b`, `a.2.b` -> `a.0–2.b`; names that differ otherwise -> the first and a count."""
    if len(names) == 1:
        return names[0]
    split = [n.split(".") for n in names]
    if len({len(p) for p in split}) == 1:
        differ = [i for i in range(len(split[0])) if len({p[i] for p in split}) > 1]
        if len(differ) == 1 and all(p[differ[0]].isdigit() for p in split):
            values = [int(p[differ[0]]) for p in split]
            if values == list(range(values[0], values[0] + len(values))):
                parts = list(split[0])
                parts[differ[0]] = f"{values[0]}–{values[-1]}"
                return ".".join(parts)
    return f"{names[0]} (and {len(names) - 1} alike)"


def _runs(group: list[ModuleStatus], statuses: dict[str, ModuleStatus]) -> list[tuple[ModuleStatus, int]]:
    """Consecutive siblings `x.0, x.1, …` with equal signatures become (first, count)."""
    out: list[tuple[ModuleStatus, int]] = []
    i = 0
    while i < len(group):
        first = group[i]
        match = _LAST_INDEX.match(first.name)
        j = i + 1
        if match:
            base, start = match.group(1), int(match.group(2))
            sig = signature(first, statuses)
            while j < len(group):
                m = _LAST_INDEX.match(group[j].name)
                if not m or m.group(1) != base or int(m.group(2)) != start + (j - i) \
                        or signature(group[j], statuses) != sig:
                    break
                j += 1
        out.append((first, j - i))
        i = j
    return out
