"""Find repeated structure in a capture's graph (a loop body run many times) so it is drawn once.

Generic, not tied to any layer type: every tensor vertex, together with the anonymous grad_fn
nodes that its op made, forms a *group*; a group's signature is what the user's code did there
(kind, names with layer indices blanked, grad_fn, op, module, file:line, shape, dtype) plus the
wiring inside the group. Listed in the order the tensors were made, the signatures of a loop body
repeat with a fixed period; each maximal tandem repeat of at least `MIN_REPEATS` copies becomes a
`Run`, drawn once (its last copy) with its count. Everything here is iterative, so 20,000-node
graphs never touch the recursion limit.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from gradscope.analyse.graph import GraphView
from gradscope.capture import EdgeInfo

MIN_REPEATS = 3
MAX_PERIODS = 32  # candidate periods tried, most frequent first
_INDEX = re.compile(r"(?:(?<=\.)|^)\d+(?=\.|$)")


@dataclass
class Run:
    """`count` consecutive copies of one step; `steps[j]` lists copy j's vertices, position by position."""

    count: int
    steps: list[list[str]] = field(default_factory=list)

    @property
    def drawn(self) -> list[str]:
        return self.steps[-1]


@dataclass
class Folding:
    runs: list[Run] = field(default_factory=list)
    rep: dict[str, str] = field(default_factory=dict)  # vertex -> the vertex drawn for it
    where: dict[str, tuple[int, int]] = field(default_factory=dict)  # vertex -> (run index, step index)

    def drawn(self, vid: str) -> str:
        return self.rep.get(vid, vid)


def blank_indices(name: str | None) -> str | None:
    """`encoder.layers.3.linear1` -> `encoder.layers.#.linear1`: the same code in another copy."""
    return _INDEX.sub("#", name) if name else name


def module_indices(name: str | None) -> tuple[str, ...]:
    return tuple(_INDEX.findall(name)) if name else ()


def find_runs(view: GraphView, vids: list[str], edges: list[EdgeInfo], roots: set[str],
              min_repeats: int = MIN_REPEATS) -> Folding:
    inputs: dict[str, list[str]] = {v: [] for v in vids}
    consumers: dict[str, list[str]] = {v: [] for v in vids}
    for e in edges:
        inputs[e.dst].append(e.src)
        consumers[e.src].append(e.dst)
    groups = _groups(view, vids, inputs, consumers)
    order = sorted(groups, key=lambda v: int(v[1:]))
    interned: dict[tuple, int] = {}
    seq = []
    for head in order:
        members = groups[head]
        index = {m: i for i, m in enumerate(members)}
        wiring = tuple(sorted((index[s], i) for i, m in enumerate(members) for s in inputs[m] if s in index))
        sig = (tuple(_local_signature(view, m, m in roots) for m in members), wiring)
        seq.append(interned.setdefault(sig, len(interned)))
    digits = [module_indices(_module_name(view, head)) or None for head in order]
    folding = Folding()
    for start, period, count in _choose_runs(seq, digits, min_repeats):
        run = Run(count=count)
        for j in range(count):
            step = []
            for head in order[start + j * period:start + (j + 1) * period]:
                step.extend(groups[head])
            run.steps.append(step)
        r = len(folding.runs)
        folding.runs.append(run)
        for j, step in enumerate(run.steps):
            for pos, vid in enumerate(step):
                folding.rep[vid] = run.drawn[pos]
                folding.where[vid] = (r, j)
    return folding


def _groups(view, vids, inputs, consumers) -> dict[str, list[str]]:
    """Tensor vertex -> [itself, then the anonymous nodes its op made, in input order]."""
    indegree = {v: len(consumers[v]) for v in vids}
    ready = [v for v in vids if indegree[v] == 0]
    home: dict[str, str | None] = {}
    while ready:  # consumers before inputs: an anonymous node belongs to its earliest tensor consumer
        v = ready.pop()
        if v.startswith("t"):
            home[v] = v
        else:
            homes = [home[c] for c in consumers[v] if home.get(c)]
            home[v] = min(homes, key=lambda h: int(h[1:])) if homes else None
        for s in inputs[v]:
            indegree[s] -= 1
            if indegree[s] == 0:
                ready.append(s)
    groups: dict[str, list[str]] = {}
    for v in vids:
        if not v.startswith("t"):
            continue
        members, seen, stack = [v], {v}, list(reversed(inputs[v]))
        while stack:
            s = stack.pop()
            if s in seen or s.startswith("t") or home.get(s) != v:
                continue
            seen.add(s)
            members.append(s)
            stack.extend(reversed(inputs[s]))
        groups[v] = members
    return groups


def _module_name(view: GraphView, vid: str) -> str | None:
    t = view.tensor_of(vid)
    if t is not None:
        return t.module or t.param_name
    node = view.node_of(vid)
    return node.module if node is not None else None


def _local_signature(view: GraphView, vid: str, is_root: bool) -> tuple:
    t = view.tensor_of(vid)
    if t is not None:
        return ("t", t.kind, t.name, blank_indices(t.param_name), t.grad_fn, t.op, blank_indices(t.module), t.file,
                t.line, tuple(t.shape) if t.shape is not None else None, t.dtype, t.cut_op, is_root)
    node = view.node_of(vid)
    return ("n", node.name, node.op, blank_indices(node.module), node.file, node.line)


def _choose_runs(seq: list[int], digits: list, min_repeats: int) -> list[tuple[int, int, int]]:
    """Non-overlapping tandem repeats (start, period, count), the largest coverage first."""
    n = len(seq)
    last: dict[int, int] = {}
    distances: Counter = Counter()
    for i, s in enumerate(seq):
        if s in last:
            distances[i - last[s]] += 1
        last[s] = i
    candidates = []
    for period, seen in distances.most_common(MAX_PERIODS):
        if seen < min_repeats - 1:
            break
        i = 0
        while i < n - period:
            if seq[i] != seq[i + period]:
                i += 1
                continue
            a = i
            while i < n - period and seq[i] == seq[i + period]:
                i += 1
            length = i - a + period
            if length // period >= min_repeats:
                candidates.append(_align(a, length, period, digits, min_repeats))
    candidates.sort(key=lambda c: (-c[1] * c[2], c[1], c[0]))
    taken: list[tuple[int, int, int]] = []
    for start, period, count in candidates:
        end = start + period * count
        if all(end <= s or start >= s + p * c for s, p, c in taken):
            taken.append((start, period, count))
    return sorted(taken)


def _align(a: int, length: int, period: int, digits: list, min_repeats: int) -> tuple[int, int, int]:
    """Pick where a step starts: where layer indices change (`layers.2` -> `layers.3`), if they do."""
    breaks = [0] * (length + 1)  # breaks[i]: index changes between elements a+i-1 and a+i, prefix-summed
    for i in range(1, length):
        x, y = digits[a + i - 1], digits[a + i]
        breaks[i] = breaks[i - 1] + (1 if x is not None and y is not None and x != y else 0)
    breaks[length] = breaks[length - 1]
    best = None
    for r in range(period):
        count = (length - r) // period
        if count < min_repeats:
            break
        inside = breaks[r + period - 1] - breaks[r]
        key = (inside, -count, r)
        if best is None or key < best[0]:
            best = (key, (a + r, period, count))
    return best[1]
