"""Snapshots of the autograd graph, taken when backward is *called* (before it frees saved tensors).

The walk is iterative (an RNN unrolled 20,000 steps is 100,000+ nodes deep) and keeps no torch
objects after it returns: nodes become `GraphNode`s keyed by (id, sequence number, type), which
stay unique while the node lives and are shared across snapshots of the same graph.

Inputs that carry no gradient appear in PyTorch's graph only as empty slots; the events recorded
for each node give them back, with the chain that made them (detached from what, computed under
which `no_grad`), so that cut branches can be shown where they were cut.
"""

from __future__ import annotations

import functools
import gc
from dataclasses import dataclass, field

try:
    import resource
except ImportError:  # not on Windows
    resource = None

import torch

from gradscope.capture import json_scalar
from gradscope.record.records import plain_shape
from gradscope.record.registry import TensorRegistry, refresh_state
from gradscope.record.torch_private import SAVED_PREFIX, raw_saved, sequence_nr, tensor_version

_SCALARS = (bool, int, float, str)
STACK_BYTES_PER_NODE = 512  # C stack torch uses per node when it frees a walked graph (measured <= 280)
MAX_CUT_ANCESTRY = 200_000  # records followed back from cut inputs, per snapshot (a guard, not a view limit)


def without_gc(func):
    """Run `func` with Python's cyclic GC paused (and restored as it was, the script may turn it off).

    A walk or a build allocates a few small objects per node and frees none of them as cycles; left
    on, the collector rescans the whole (torch-sized) heap each time it grew by a quarter. On an RNN
    unrolled 3,000 steps this cut full collections from 8 to 5 and the snapshot at backward by half.
    """

    @functools.wraps(func)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return func(*args, **kwargs)
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            gc.enable()

    return paused


@dataclass(slots=True)
class GraphNode:
    key: tuple
    index: int
    name: str
    seq: int | None
    event: object = None  # OpEvent that created it (None for composite internals / unseen ops)
    owner: object = None  # TensorRecord whose grad_fn (or AccumulateGrad) this is
    claimants: tuple = ()
    next: list = field(default_factory=list)  # keys of next_functions, None for empty slots
    saved: list = field(default_factory=list)


@dataclass
class Snapshot:
    index: int
    roots: list
    call: str
    file: str | None
    line: int | None
    step: int | None
    calls: int = 1
    raised: str | None = None
    node_keys: list = field(default_factory=list)  # root nodes of this snapshot first
    leaves: list = field(default_factory=list)  # TensorRecords of AccumulateGrad variables
    cut_edges: list = field(default_factory=list)  # (src record, dst record-or-node-key)
    cut_records: list = field(default_factory=list)


class Graph:
    """All nodes seen by all snapshots of one traced run."""

    def __init__(self, registry: TensorRegistry, facts, note_failure, drops):
        self._registry = registry
        self._drops = drops  # the recorder's: what a guard below left out is counted
        self._facts = facts  # told about nodes whose saved tensors may have changed
        self._note_failure = note_failure  # the recorder's: a read that failed is counted, never silent
        self.nodes: dict[tuple, GraphNode] = {}
        self._saved_names: dict[type, list[str]] = {}
        self.snapshot_count = 0
        self.saved_hooks_seen = False  # some op ran under saved_tensors_hooks (set by the recorder)

    @without_gc
    def snapshot(self, root_recs, root_tensors, call, file, line, step) -> Snapshot:
        snap = Snapshot(self.snapshot_count, list(root_recs), call, file, line, step)
        self.snapshot_count += 1
        seen_cut: set[int] = set()
        for rec, t in zip(root_recs, root_tensors):
            refresh_state(rec, t)
            fn = t.grad_fn
            if fn is not None:
                self._walk(fn, snap, seen_cut)
            elif not t.requires_grad:
                self._follow_cut(rec, snap, seen_cut)
        stack_for_freeing(len(self.nodes), self._note_failure)
        return snap

    # -- the node walk -----------------------------------------------------------------------
    def _walk(self, root_fn, snap: Snapshot, seen_cut: set) -> tuple:
        key_of = NodeKeys()  # wrappers stay alive in `hold`, so their ids are stable for the walk
        root_key = key_of(root_fn)
        stack = [root_fn]
        visited: set[tuple] = set()
        hold = []  # keeps node wrappers alive during the walk so they are not rebuilt
        known = key_of.by_id  # read inline: this loop runs for every node and edge
        while stack:
            fn = stack.pop()
            hold.append(fn)
            key = known.get(id(fn)) or key_of(fn)
            if key in visited:
                continue
            visited.add(key)
            node = self.nodes.get(key)
            if node is None:
                node = self._make_node(fn, key, key_of)
                self.nodes[key] = node
            snap.node_keys.append(key)
            if node.name == "AccumulateGrad" and node.owner is not None:
                snap.leaves.append(node.owner)
            for nfn, _ in fn.next_functions:
                if nfn is not None and (known.get(id(nfn)) or key_of(nfn)) not in visited:
                    stack.append(nfn)
            event = node.event
            if event is not None:
                for rec, rg in zip(event.inputs, event.in_rg):
                    if not rg and rec is not node.owner:
                        snap.cut_edges.append((rec, key))
                        self._follow_cut(rec, snap, seen_cut)
        return root_key

    def _make_node(self, fn, key, key_of) -> GraphNode:
        name = type(fn).__name__
        seq = key[0] if isinstance(key[0], int) else None
        node = GraphNode(key, len(self.nodes), name, seq)
        node.next = [None if nfn is None else key_of(nfn) for nfn, _ in fn.next_functions]
        if name == "AccumulateGrad":
            variable = getattr(fn, "variable", None)
            if variable is not None:
                node.owner = self._registry.record_for(variable)
                refresh_state(node.owner, variable)
            return node
        event = node_event(fn, self._note_failure)
        node.event = event
        if event is not None:
            claimants = tuple(r for r in event.outputs if r.node_seq == seq and r.grad_fn == name)
            owners = [r for r in claimants if _owns(r, fn)]
            if len(owners) == 1:
                node.owner = owners[0]
            elif len(claimants) == 1 and claimants[0].tensor() is None:
                node.owner = claimants[0]
            node.claimants = claimants
        hooked = self.unpack_would_call_hooks(event)
        node.saved = self._saved(fn, hooked)
        facts = self._facts
        if hooked:
            return node  # reading its saved tensors would run the script's unpack hook
        if facts.data_mutations or any(entry.get("state") == "modified" for entry in node.saved):
            facts.on_node(fn, node, self.saved_names(fn))  # only then can it find anything
        return node

    def saved_names(self, fn) -> list[str]:
        """The `_saved_*` attributes of a node's class (looked up once per class: `dir` is slow)."""
        names = self._saved_names.get(type(fn))
        if names is None:
            names = self._saved_names[type(fn)] = [a for a in dir(fn) if a.startswith(SAVED_PREFIX)]
        return names

    def unpack_would_call_hooks(self, event) -> bool:
        """May reading this node's saved tensors run a saved_tensors_hooks unpack hook of the script?
        Known for nodes of recorded ops; for other nodes, whenever any op ran under such hooks."""
        return event.hooked if event is not None else self.saved_hooks_seen

    def _saved(self, fn, hooked: bool) -> list:
        names = self.saved_names(fn)
        saved = []
        for attr in names:
            entry = {"name": attr[len(SAVED_PREFIX):]}
            if hooked and raw_saved(fn, attr) is not None:  # a saved tensor: only its name
                saved.append(entry)
                continue
            try:
                value = getattr(fn, attr)
            except RuntimeError as exc:
                message = str(exc)
                entry["state"] = "modified" if "inplace" in message else "freed"
                saved.append(entry)
                continue
            except Exception as exc:  # noqa: BLE001 - left out, and counted
                self._note_failure(exc)
                continue
            if isinstance(value, torch.Tensor):
                entry["shape"] = plain_shape(value.shape)
                entry["dtype"] = str(value.dtype).replace("torch.", "")
                entry["version"] = tensor_version(value)
                rec = self._registry.lookup(value)
                if rec is not None:
                    entry["tensor"] = rec
            elif value is None or isinstance(value, _SCALARS):
                entry["value"] = json_scalar(value)
            elif isinstance(value, (tuple, list)) and len(value) <= 8:
                entry["value"] = [json_scalar(v) if isinstance(v, _SCALARS) else str(v) for v in value]
            else:
                entry["value"] = str(value)[:40]
            saved.append(entry)
        return saved

    # -- what a cut input was made from ------------------------------------------------------
    def _follow_cut(self, rec, snap: Snapshot, seen_cut: set) -> None:
        pending = [rec]
        while pending:
            if len(seen_cut) >= MAX_CUT_ANCESTRY:
                self._drops.note("cut_ancestry", MAX_CUT_ANCESTRY, count=len(pending), file=rec.file, line=rec.line,
                                 by_line=False)
                return
            rec = pending.pop()
            if rec.id in seen_cut:
                continue
            seen_cut.add(rec.id)
            snap.cut_records.append(rec)
            t = rec.tensor()
            if t is not None:
                refresh_state(rec, t)
                if t.grad_fn is not None:
                    self._walk(t.grad_fn, snap, seen_cut)
                    continue
                if t.requires_grad:
                    continue  # a leaf: nothing made it
            sources = []
            if rec.detached_from is not None:
                sources = [rec.detached_from]
            else:
                event, visited = rec.event, set()
                while event is not None and id(event) not in visited:  # back through in-place ops on it
                    visited.add(id(event))
                    sources += [r for r in event.inputs if r is not rec]
                    event = event.before if rec in event.inputs else None
            for src in sources:
                snap.cut_edges.append((src, rec))
                if src.id not in seen_cut:
                    pending.append(src)


class NodeKeys:
    """The keys of the nodes one walk meets, for wrappers the walk holds alive (so ids are unique).

    Sequence numbers are counted per thread: a graph whose parts were built in several threads
    (DataParallel replicas, a script's own threads) has distinct nodes with one (number, name). The
    second such node met gets its wrapper's id added to its key, so neither is taken for the other."""

    def __init__(self):
        self.by_id: dict[int, tuple] = {}  # id(wrapper) -> key of the wrappers met so far
        self._holder: dict[tuple, int] = {}  # key -> id of the wrapper that has it

    def __call__(self, fn) -> tuple:
        key = self.by_id.get(id(fn))
        if key is None:
            key = node_key(fn)
            if self._holder.setdefault(key, id(fn)) != id(fn):
                key = (*key, id(fn))
                self._holder[key] = id(fn)
            self.by_id[id(fn)] = key
        return key


def node_key(fn) -> tuple:
    """Stable while the node lives, even if its Python wrapper is recreated (ids are not); see
    `NodeKeys` for nodes built in different threads."""
    name = type(fn).__name__
    if name == "AccumulateGrad":
        variable = getattr(fn, "variable", None)
        return ("acc", id(variable) if variable is not None else id(fn))
    return (sequence_nr(fn), name)


def _owns(rec, fn) -> bool:
    t = rec.tensor()
    return t is not None and t.grad_fn is fn


def node_event(fn, note_failure):
    """The OpEvent the recorder attached to a grad_fn node (None for nodes of ops it did not see)."""
    try:
        return fn.metadata.get("gradscope")
    except Exception as exc:  # noqa: BLE001 - a node without metadata (another torch version): counted
        note_failure(exc)
        return None


def stack_for_freeing(nodes: int, note_failure) -> None:
    """Make room on the C stack for PyTorch to free a graph we walked.

    Walking `next_functions` gives every node a Python wrapper, and torch (2.13) then frees such a
    graph recursively through the wrappers instead of with its iterative deleter: an RNN unrolled
    20,000 steps (120k nodes) overflowed the default 8 MiB stack and crashed the process when the
    script dropped it, with or without gradscope's other code. Linux grows the main thread's stack on
    demand up to the soft limit, so raise that limit (never above the hard one) to fit the graph.
    """
    if resource is None:
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
        need = (1 << 20) + nodes * STACK_BYTES_PER_NODE  # below the limit (most graphs): left as it is
        if hard != resource.RLIM_INFINITY:
            need = min(need, hard)
        if soft != resource.RLIM_INFINITY and need > soft:
            resource.setrlimit(resource.RLIMIT_STACK, (need, hard))
    except (ValueError, OSError) as exc:  # the script may still crash freeing its graph: say so
        note_failure(exc)


def nodes_from(roots, limit: int | None = None, skip=frozenset(), on_cap=None):
    """Every node reachable from `roots` (grad_fn nodes), once each, iteratively, skipping the keys
    in `skip` and stopping after `limit` nodes; `on_cap()` is called when the limit left a node
    unwalked (so the caller can say what its cap dropped). Wrappers are held until the walk ends, so
    a node's Python wrapper is not rebuilt (and its id reused) while the walk is still deciding."""
    stack, seen, hold = list(roots), set(skip), []
    key_of = NodeKeys()
    found = 0
    while stack:
        fn = stack.pop()
        hold.append(fn)
        key = key_of(fn)
        if key in seen:
            continue
        if limit is not None and found >= limit:
            if on_cap is not None:
                on_cap()
            return
        seen.add(key)
        found += 1
        yield fn
        stack.extend(nfn for nfn, _ in fn.next_functions if nfn is not None)


def reachable_tensor_ids(registry: TensorRegistry, t, note_failure) -> set[int]:
    """Record ids of the tensors reachable from `t` through its graph (for choosing implicit roots)."""
    out: set[int] = set()
    if t.grad_fn is None:
        return out
    count = 0
    for fn in nodes_from([t.grad_fn]):
        count += 1
        if type(fn).__name__ == "AccumulateGrad":
            rec = registry.lookup(fn.variable)
            if rec is not None:
                out.add(rec.id)
            continue
        event = node_event(fn, note_failure)
        if event is not None:
            out.update(r.id for r in event.outputs)
    stack_for_freeing(count, note_failure)
    return out
