"""Recorder state -> Capture: the last step that touches torch.

Reads each kept tensor's final state (if it still exists), names parameters after the modules
that hold them, numbers tensors and nodes in a stable order, and turns snapshots into plain
nodes and edges. Labels come from `analyse.labels`, the same rules a re-read capture uses.
"""

from __future__ import annotations

import bisect
import linecache

import msgspec
import torch

from gradscope.analyse.labels import classify, cut_reason
from gradscope.capture import (Capture, Diagnostic, Dropped, EdgeInfo, Event, GradHealth, NanOrigin, NodeInfo,
                                NormSeries, NormSite, ParamUpdate, RootInfo, SourceLine, TensorInfo, json_scalar)
from gradscope.record.failures import log_diagnostics
from gradscope.record.norms import DEAD_ROWS_KEPT
from gradscope.record.records import MAX_CUT_DEPTH, ModuleAttr, TensorRecord, plain_shape
from gradscope.record.recorder import EVENT_CAP_PER_SITE, GRAD_VALUES_MAX, Recorder
from gradscope.record.registry import refresh_state
from gradscope.record.walk import without_gc

_SCALAR_TYPES = (bool, int, float)
SOURCE_TEXT_MAX = 160  # characters of a source line kept in the capture


@without_gc
def build_capture(recorder: Recorder, *, script: str, argv: list[str], exit_info: dict) -> Capture:
    modules = recorder.modules
    modules.name_modules()
    qualnames = modules.qualnames
    display = recorder.user_files.display_path

    included: dict[int, object] = {}

    def include(rec):
        included.setdefault(rec.id, rec)
        return rec

    graph = recorder.graph
    nodes_in_order: list = []
    seen_nodes: set = set()
    for snap in recorder.snapshots:
        for rec in snap.roots:
            include(rec)
        for key in snap.node_keys:
            if key not in seen_nodes:
                seen_nodes.add(key)
                nodes_in_order.append(graph.nodes[key])
        for rec in snap.leaves + snap.cut_records:
            include(rec)
        for src, dst in snap.cut_edges:
            include(src)
            if not isinstance(dst, tuple):
                include(dst)
    for node in nodes_in_order:
        if node.owner is not None:
            include(node.owner)
        if node.event is not None:
            for rec in node.event.inputs:
                include(rec)
    for rec in modules.params.values():
        include(rec)
    for rec in recorder.variables.values():
        include(rec)
    for *_, held in recorder.raise_frames:
        for rec in held.values():
            include(rec)
    for event in recorder.events:
        for value in event.values():
            for item in (value if isinstance(value, list) else [value]):
                if isinstance(item, TensorRecord):
                    include(item)
    for entry in modules.optimizer_entries.values():
        for rec in entry["params"]:
            include(rec)
    for rec in _health_records(recorder.norms):
        include(rec)
    for origin in recorder.nan.origins if recorder.nan is not None else ():
        if origin["tensor"] is not None:
            include(origin["tensor"])

    recs = sorted(included.values(), key=lambda r: r.id)
    cid = {rec.id: i for i, rec in enumerate(recs)}
    snap_roots = [(snap, rec) for snap in recorder.snapshots for rec in snap.roots]

    tensors = []
    for rec in recs:
        _refresh(rec, recorder)
        info = _tensor_info(rec, cid, qualnames, display, snap_roots)
        info.kind = classify(info)
        tensors.append(info)
    by_cid = {t.id: t for t in tensors}

    node_ids = {node.key: i for i, node in enumerate(nodes_in_order)}
    attributed = _attribute_composites(nodes_in_order)
    capture_nodes = []
    for node in nodes_in_order:
        event = node.event or attributed.get(node.key)
        info = NodeInfo(id=node_ids[node.key], name=node.name)
        if node.owner is not None:
            if node.name == "AccumulateGrad":
                info.variable = cid[node.owner.id]
            else:
                info.tensor = cid[node.owner.id]
        if event is not None:
            info.file = display(event.file) if event.file else None
            info.line = event.line
            info.op = event.op
            info.module = qualnames.get(event.module)
        info.next = [node_ids.get(k) if k is not None else None for k in node.next]
        info.saved = [_saved_entry(s, cid) for s in node.saved]
        capture_nodes.append(info)
    for info in capture_nodes:
        if info.tensor is not None:
            by_cid[info.tensor].node = info.id
        if info.variable is not None:
            by_cid[info.variable].node = info.id

    def vertex(key_or_rec):
        if isinstance(key_or_rec, tuple):
            node = graph.nodes[key_or_rec]
            if node.owner is not None:
                return f"t{cid[node.owner.id]}"
            return f"n{node_ids[key_or_rec]}"
        return f"t{cid[key_or_rec.id]}"

    edges: dict[tuple[str, str], EdgeInfo] = {}
    for node in nodes_in_order:
        dst = vertex(node.key)
        for key in node.next:
            if key is not None and key in node_ids:
                src = vertex(key)
                if src != dst:
                    edges.setdefault((src, dst), EdgeInfo(src, dst, True))
    for snap in recorder.snapshots:
        for src_rec, dst in snap.cut_edges:
            src, dst_v = vertex(src_rec), vertex(dst)
            if src == dst_v or (src, dst_v) in edges:
                continue
            src_info = by_cid[cid[src_rec.id]]
            if isinstance(dst, tuple):  # a cut input of an op
                edge = EdgeInfo(src, dst_v, False, cut_reason(src_info), src_info.kind, src_info.cut_line)
            else:  # what a cut tensor was made from
                dst_info = by_cid[cid[dst.id]]
                if dst_info.requires_grad:
                    # a tensor that carries gradient on the way to a cut (the logits an argmax reads): its
                    # inputs are drawn by its recorded grad_fn, or, when none was recorded, as plain inputs
                    if dst_info.node is None:
                        edges[(src, dst_v)] = EdgeInfo(src, dst_v, src_info.requires_grad)
                    continue
                cuts = dst_info.kind in ("detached", "no_grad", "inference", "nondiff")
                edge = EdgeInfo(src, dst_v, False, cut_reason(dst_info) if cuts else None, dst_info.kind,
                                dst_info.cut_line if cuts else None)
            edges[(src, dst_v)] = edge

    roots = []
    for snap in recorder.snapshots:
        for rec in snap.roots:
            roots.append(RootInfo(tensor=cid[rec.id], file=display(snap.file) if snap.file else None,
                                  line=snap.line, call=snap.call, step=snap.step, calls=snap.calls,
                                  raised=snap.raised))

    capture = Capture(
        script=script,
        argv=list(argv),
        torch_version=str(torch.__version__),
        exit=_with_frames(exit_info, recorder.raise_frames, cid, display),
        tensors=tensors,
        nodes=capture_nodes,
        edges=list(edges.values()),
        roots=roots,
        variables={name: cid[rec.id] for name, rec in recorder.variables.items()},
        backward_calls=recorder.backward_count,
        stopped_after=recorder.stop_after if recorder.stopped else None,
        events=[_event_record(e, cid, display, qualnames) for e in recorder.events],
        modules=[{"name": name, "type": entry["type"], "called": entry["called"],
                  "params": [cid[r.id] for r in entry["params"] if r.id in cid],
                  "grad_buffers": [cid[r.id] for r in entry["grad_buffers"] if r.id in cid],
                  "grad_attrs": {a: cid[r.id] for a, r in entry["grad_attrs"].items() if r.id in cid}}
                 for name, entry in modules.entries.items()],
        optimizers=[{"name": e["name"], "type": e["type"], "params": [cid[r.id] for r in e["params"]],
                     "line": e["line"]} for e in modules.optimizer_entries.values()],
        warnings=[dict(w, file=display(w["file"]) if w["file"] else None) for w in recorder.warnings],
        diagnostics=[Diagnostic(where, what, count, display(file) if file else None, line)
                     for (where, _), (count, what, file, line) in recorder.failures.by_site.items()],
        dropped=_dropped(recorder, recs, display),
        sources=_sources([(rec.file, rec.line) for rec in recs]
                         + [(n.event.file, n.event.line) for n in nodes_in_order if n.event is not None]
                         + [(e["read_file"], e["read_line"]) for e in recorder.events if e["kind"] == "value_fed"]
                         + [(rec.file, rec.cut_line) for rec in recs if rec.cut_line is not None],
                         display),
        grad_health=_grad_health(recorder, cid, display),
    )
    log_diagnostics(capture)
    return capture


def _sources(places, display) -> list[SourceLine]:
    """The text of each cited line (stripped, at most SOURCE_TEXT_MAX characters), for the page's details."""
    out, seen = [], set()
    for file, line in places:
        if file is None or line is None or (file, line) in seen:
            continue
        seen.add((file, line))
        text = linecache.getline(file, line).strip()
        if text:
            out.append(SourceLine(display(file), line, text[:SOURCE_TEXT_MAX]))
    return out


def _dropped(recorder: Recorder, recs: list, display) -> list[Dropped]:
    """What each cap left out: events beyond a line's cap, the recorder's other caps, and the tensors of
    this capture whose origin was not kept (their cut chain was deeper than MAX_CUT_DEPTH)."""
    where = lambda file: display(file) if file else None  # noqa: E731
    out = [Dropped("events", count, EVENT_CAP_PER_SITE, kind, where(file), line)
           for kind, file, line, count in recorder.dropped_events()]
    out += [Dropped(key[0], count, cap, key[1] if len(key) > 1 else None, where(file), line)
            for key, (count, cap, file, line) in recorder.drops.by_site.items()]
    capped = [rec for rec in recs if _origin_dropped(rec)]
    if capped:
        out.append(Dropped("cut_origins", len(capped), MAX_CUT_DEPTH, None, where(capped[0].file), capped[0].line))
    return out


def _origin_dropped(rec) -> bool:
    """A tensor without gradient whose making was not kept (see `Recorder._hold_if_cut`)."""
    return rec.origin_capped and not rec.requires_grad and rec.event is None


# -- gradient health -------------------------------------------------------------------------------


def _health_records(norms):
    if norms is None:
        return []
    recs = [rec for site in norms.sites.values() for rec, _ in site.params.values()]
    return recs + [u.rec for u in norms.updates.values()]


def _grad_health(recorder: Recorder, cid, display) -> GradHealth:
    norms = recorder.norms
    if norms is None:
        return GradHealth(norms=False, nan_checked=recorder.nan is not None, nan=_nan_origins(recorder, cid, display))
    qualnames = recorder.modules.qualnames
    sites = []
    for site in norms.sites.values():
        series = [_norm_series("model", "model", None, site.model)]
        rows = site.rows
        for owner, s in site.modules.items():
            name = qualnames.get(owner)
            if name is None:
                ref = norms.module_refs.get(owner)
                module = ref() if ref is not None else None
                name = type(module).__name__ if module is not None else "module"
            series.append(_norm_series("module", name, None, s))
        for rec, s in site.params.values():
            name = rec.param_name or rec.name or f"tensor {cid[rec.id]}"
            series.append(_norm_series("parameter", name, cid[rec.id], s, rows.get(rec.id)))
        sites.append(NormSite(file=display(site.file) if site.file else None, line=site.line, call=site.call,
                              calls=site.calls, accumulated=site.accumulated, series=series,
                              recorded_call=site.recorded_call))
    updates = [ParamUpdate(tensor=cid[u.rec.id], steps_with_grad=u.with_grad, steps_changed=u.changed, lr=u.lr)
               for u in norms.updates.values()]
    return GradHealth(norms=True, optimizer_steps=norms.steps, sites=sites, updates=updates,
                      clip_max_norm=norms.clip_max_norm, clip_line=norms.clip_line, grad_scaler=norms.grad_scaler,
                      nan_checked=recorder.nan is not None, nan=_nan_origins(recorder, cid, display))


def _nan_origins(recorder: Recorder, cid, display) -> list[NanOrigin]:
    watch = recorder.nan
    if watch is None:
        return []
    out = []
    for o in watch.origins:
        rec = o["tensor"]
        out.append(NanOrigin(phase=o["phase"], value=o["value"], op=o["op"],
                             file=display(o["file"]) if o["file"] else None, line=o["line"],
                             tensor=cid.get(rec.id) if rec is not None else None,
                             name=(rec.name if rec is not None else None) or o["name"],
                             module=recorder.modules.qualnames.get(o["module"]), call=o["call"],
                             inputs=list(o["inputs"]), inputs_finite=o["inputs_finite"],
                             inputs_inf=o["inputs_inf"]))
    return out


def _norm_series(of, name, tensor, s, rows=None) -> NormSeries:
    dead = rows.dead() if rows is not None else []
    return NormSeries(of=of, name=name, tensor=tensor, first=s.first, last=s.last, min=s.min, max=s.max,
                      median=s.median(), calls=s.calls, zeros=s.zeros, nonfinite=s.nonfinite,
                      first_nonfinite=s.first_nonfinite, series_calls=list(s.at), series=list(s.values),
                      recorded=json_scalar(s.recorded), rows=rows.count if rows is not None else None,
                      dead_rows=len(dead), dead_rows_at=dead[:DEAD_ROWS_KEPT])


# -- tensors -------------------------------------------------------------------------------------


def _refresh(rec, recorder: Recorder) -> None:
    t = rec.tensor()
    if t is None:
        rec.alive = False
        return
    try:
        refresh_state(rec, t)
        rec.is_inference = t.is_inference()
        g = t.grad if (t.is_leaf or t.retains_grad) else None
        rec.grad_is_none = g is None
        if g is not None:
            rec.grad_shape = plain_shape(g.shape)
            if g.numel() <= GRAD_VALUES_MAX and g.layout is torch.strided and g.device.type != "meta":
                values = g.detach().cpu().flatten().tolist()
                rec.grad_values = [json_scalar(v) if isinstance(v, _SCALAR_TYPES) else str(v) for v in values]
    except Exception as exc:  # noqa: BLE001 - an odd tensor subclass loses detail, not the capture
        recorder.note_failure(exc)


def _tensor_info(rec, cid, qualnames, display, snap_roots) -> TensorInfo:
    t_dtype = str(rec.dtype).replace("torch.", "") if rec.dtype is not None else None
    return TensorInfo(
        id=cid[rec.id],
        name=rec.name,
        scope=rec.scope,
        requires_grad=bool(rec.requires_grad),
        is_leaf=bool(rec.is_leaf),
        grad_fn=rec.grad_fn,
        shape=plain_shape(rec.shape) if rec.shape is not None else None,  # (torch.jit.trace: 0-d tensors)
        dtype=t_dtype,
        device=str(rec.device) if rec.device is not None else None,
        file=display(rec.file) if rec.file else None,
        line=rec.line if rec.line is not None else rec.bind_line,
        op=rec.op,
        detached_from=cid.get(rec.detached_from.id) if rec.detached_from is not None else None,
        cut_line=rec.cut_line,
        cut_def_line=rec.cut_def_line,
        cut_op=rec.cut_op,
        frozen_line=rec.frozen_line,
        origin_dropped=_origin_dropped(rec),
        param_name=rec.param_name,
        module=qualnames.get(rec.module) if rec.module is not None else None,
        grad_is_none=rec.grad_is_none if rec.alive else None,
        grad_shape=rec.grad_shape,
        grad_values=rec.grad_values,
        grads=[rec.grads.get(snap.index) for snap, _ in snap_roots],
        alive=rec.alive,
        is_parameter=rec.is_parameter,
        inputs_required_grad=rec.inputs_rg,
        grad_mode=rec.grad_mode,
        user_no_grad=rec.user_no_grad,
        inference_made=rec.inference_made or rec.is_inference,
    )


def _saved_entry(entry: dict, cid) -> dict:
    out = {k: v for k, v in entry.items() if k != "tensor"}
    rec = entry.get("tensor")
    if rec is not None and rec.id in cid:
        out["tensor"] = cid[rec.id]
    return out


def _with_frames(exit_info: dict, frames, cid, display) -> dict:
    """The exception, with the tensors each user frame of its traceback held (as tensor ids)."""
    exception = exit_info.get("exception")
    if not exception or not frames:
        return exit_info
    frames = [{"function": function, "file": display(file), "line": line,
               "locals": {name: cid[rec.id] for name, rec in held.items() if rec.id in cid}}
              for function, file, line, held in frames]
    return dict(exit_info, exception=dict(exception, frames=frames))


def _event_record(event: dict, cid, display, qualnames) -> Event:
    """The recorder's event (live tensor records inside) as the capture's typed record (tensor ids)."""
    out = {}
    for key, value in event.items():
        if isinstance(value, TensorRecord):
            out[key] = cid.get(value.id)
        elif isinstance(value, list) and any(isinstance(v, TensorRecord) for v in value):
            out[key] = [cid[v.id] for v in value if isinstance(v, TensorRecord) and v.id in cid]
        elif isinstance(value, ModuleAttr):
            out[key] = value.path(qualnames)
        elif key in ("file", "read_file"):
            out[key] = display(value) if value else None
        else:
            out[key] = value
    return msgspec.convert(out, Event)


# -- composite ops -------------------------------------------------------------------------------


def _attribute_composites(nodes) -> dict:
    """Give nodes made inside a composite op (no event of their own) the event of that op.

    A node belongs to the composite whose output node has the smallest sequence number above its
    own and reaches it through unattributed nodes only. Custom `Function` nodes are left alone.
    """
    # (nodes built in different threads can share a sequence number: never compare the nodes themselves)
    labelled = sorted(((n.seq, n) for n in nodes if n.event is not None and n.seq is not None), key=lambda p: p[0])
    seqs = [s for s, _ in labelled]
    by_key = {n.key: n for n in nodes}
    result: dict = {}
    for seq, owner in labelled:
        stack = [k for k in owner.next if k is not None]
        while stack:
            node = by_key.get(stack.pop())
            if node is None or node.event is not None or node.key in result or node.seq is None:
                continue
            if node.name.endswith("Backward") and not node.name[-1].isdigit():
                continue  # a custom autograd.Function
            i = bisect.bisect_left(seqs, node.seq)
            if i < len(labelled) and labelled[i][1] is owner:
                result[node.key] = owner.event
                stack.extend(k for k in node.next if k is not None)
    return result
