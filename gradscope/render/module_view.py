"""The module view: gradient flow per `nn.Module`, the default report for scripts that build models.

One row per module (identical siblings folded, uniform subtrees standing for themselves): its
parameters (trainable / frozen, and the line that froze them), whether each recorded backward
reached it, the cuts entering it and its gradient's norm right after the latest recorded backward
(a module's parameters together, submodules included). Then every
cut once, with line and reason. Like torchinfo's summary, but for gradient flow. Rich Text only
(never markup), so names from user code print as they are.
"""

from __future__ import annotations

from collections import Counter

from rich.console import Console, ConsoleOptions
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from gradscope.analyse.findings.context import listed
from gradscope.analyse.graph import GraphView
from gradscope.analyse.modules import (ModuleStatus, Row, fold_names, fold_rows, has_norms, module_of, module_statuses,
                                       recorded_roots)
from gradscope.analyse.statuses import Cut, Statuses, module_entries
from gradscope.capture import Capture
from gradscope.render.fold import blank_indices

MARKS = {True: "✓", False: "✗", None: "·"}
UNBOUNDED = 10_000  # columns: to measure the table's natural width


def has_modules(capture: Capture) -> bool:
    """The module view has something to say: the script made a module with parameters."""
    return any(params for _, _, params in module_entries(capture))


def module_renderables(capture: Capture, view: GraphView, statuses: Statuses) -> list:
    modules = module_statuses(capture, statuses, view)
    rows = fold_rows(modules)
    parts: list = []
    if not rows:
        return parts
    norms, header = _norms(capture, rows)
    parts.append(_legend(capture, header))
    parts.append(_FittedTable(rows, norms))
    cuts = _cuts(view, statuses, modules)
    if cuts is not None:
        parts.append(cuts)
    return parts


def _legend(capture: Capture, norms: str) -> Text:
    calls = []
    for n, i in enumerate(recorded_roots(capture), 1):
        root = capture.roots[i]
        name = capture.tensor(root.tensor).name or "?"
        calls.append(f"#{n} {name} (line {root.line})" if root.line is not None else f"#{n} {name}")
    text = Text("Gradient flow by module", style="bold")
    if calls:
        text.append(f"  · ✓/✗: did backward {', '.join(calls)} reach it", style="dim")
    if norms:
        text.append(f"  · {norms}", style="dim")
    return text


def _norms(capture: Capture, rows: list[Row]) -> tuple[list[str], str]:
    """Each row's norm cell, and the legend's words saying which call the norms are taken after. A
    module whose gradient the latest recorded call left None shows its norm after an earlier one, marked."""
    steps = {capture.roots[i].step: n for n, i in enumerate(recorded_roots(capture), 1)}
    last = max(steps, default=None)
    cells = []
    for row in rows:
        m = row.module
        text = _norm(m.grad_norm) if row.count == 1 else ""
        call = m.grad_norm_call
        if text and call is not None and call != last:
            text += f" (#{steps[call]})" if call in steps else f" (call {call})"
        cells.append(text)
    if not any(cells):
        return cells, ""
    if not has_norms(capture):
        return cells, "grad norm at exit"
    return cells, f"grad norm after #{steps[last]}" if last is not None else ""


class _FittedTable:
    """The table with each module's full name, or, when that is wider than the console (the deep
    paths of a wrapped HF model: `model.base_model.model.model.layers.0–1.self_attn.q_proj`), with each
    name relative to the row it is indented under. The Cuts below always give full names."""

    def __init__(self, rows: list[Row], norms: list[str]):
        self.rows, self.norms = rows, norms

    def __rich_console__(self, console: Console, options: ConsoleOptions):
        table = _table(self.rows, [r.label for r in self.rows], self.norms)
        unbounded = options.update(width=UNBOUNDED)
        if Measurement.get(console, unbounded, table).maximum > options.max_width:
            table = _table(self.rows, _relative_labels(self.rows), self.norms)
        yield table


def _relative_labels(rows: list[Row]) -> list[str]:
    above: list[str] = []  # the full label of the row open at each level
    labels = []
    for row in rows:
        del above[row.level:]
        parent = above[-1] if above else ""
        label = row.label
        labels.append(label[len(parent) + 1:] if parent and label.startswith(parent + ".") else label)
        above.append(label)
    return labels


def _table(rows: list[Row], labels: list[str], norms: list[str]) -> Table:
    """`norms`: each row's cell for the column "grad norm" (the legend says after which call)."""
    cuts = ["; ".join(dict.fromkeys(f"✂ {c.reason}" for c in r.module.cuts_in)) for r in rows]  # each place once
    columns = ["module", "type", "parameters", "backward"] + (["grad norm"] if any(norms) else []) + \
        (["cut inputs"] if any(cuts) else [])
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False, show_edge=False)
    for column in columns:
        table.add_column(column, overflow="fold")  # wrapped, never cut: a cropped "line 11" reads "line 1"
    for row, label, norm, cut in zip(rows, labels, norms, cuts):
        m = row.module
        name = Text("  " * row.level + label, style="cyan" if m.frozen and not m.trainable else "")
        mtype = (m.type or "") + (f" ×{row.count}" if row.count > 1 else "")
        cells = [name, Text(mtype, style="dim"), _params(m, row.count), _reached(m)]
        if "grad norm" in columns:
            cells.append(Text(norm))
        if "cut inputs" in columns:
            cells.append(Text(cut, style="red"))
        table.add_row(*cells)
    return table


def _params(m: ModuleStatus, count: int) -> Text:
    text = Text()
    if m.trainable:
        text.append(f"{m.trainable} trainable", style="green")
    if m.frozen:
        if m.trainable:
            text.append(" · ")
        text.append(f"{m.frozen} frozen", style="bold cyan")
    if count > 1 and text:
        text.append(" each")
    if m.frozen_lines:
        lines = listed([str(n) for n in m.frozen_lines], 3)
        text.append(f" · line{'s' if len(m.frozen_lines) > 1 else ''} {lines}", style="cyan")
    return text


def _reached(m: ModuleStatus) -> Text:
    marks = "".join(MARKS[r] for r in m.reached)
    if not m.called and any(r is True for r in m.reached):  # a weight tied into modules that ran (T5's shared)
        return Text(f"{marks} (not called)", style="green" if all(r is not False for r in m.reached) else "red")
    if not m.called:
        return Text("never called", style="yellow")
    style = "green" if all(r is not False for r in m.reached) else "red"
    return Text(marks or "-", style=style)


def _norm(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"


def _cuts(view: GraphView, statuses: Statuses, modules: dict[str, ModuleStatus]) -> Text | None:
    """Every cut once: frozen modules as units (identical ones folded), then each detach / no_grad /
    non-differentiable op a backward root reads, with the modules that read it; the cuts no root
    reads (an evaluation under no_grad) in one line at the end."""
    if not statuses.cuts:
        return None
    text = Text("Cuts", style="bold")
    units: dict[str, list[Cut]] = {}
    for cut in statuses.cuts.values():
        if cut.kind == "frozen":
            units.setdefault(cut.module or view.label(cut.vid), []).append(cut)
    alike: dict[tuple, list[str]] = {}
    for unit, cuts in units.items():
        mtype = modules[unit].type if unit in modules else None
        lines = tuple(sorted({c.line for c in cuts if c.line is not None}))
        alike.setdefault((blank_indices(unit), mtype, len(cuts), lines), []).append(unit)
    for (_, mtype, count, lines), names in alike.items():
        where = f" · line{'s' if len(lines) > 1 else ''} {listed([str(n) for n in lines], 3)}" if lines else ""
        text.append("\n  ✂ ", style="red")
        text.append(f"frozen {fold_names(names)}", style="bold cyan")
        kind = f" {mtype}" + (f" ×{len(names)}" if len(names) > 1 else "") if mtype else ""
        each = " each" if len(names) > 1 else ""
        text.append(f"{kind}: {count} parameter{'s' if count > 1 else ''}{each} (requires_grad=False){where}")
    others = [(vid, cut) for vid, cut in statuses.cuts.items() if cut.kind != "frozen"]
    feeding = view.upstream_of_roots()
    elsewhere = Counter(cut.reason for vid, cut in others if vid not in feeding)  # an evaluation under no_grad
    others = [(vid, cut) for vid, cut in others if vid in feeding]
    unnamed: dict[str, list[str]] = {}  # reason (with its line) -> unnamed results cut there
    for vid, cut in others:
        if _unnamed(view, vid):
            unnamed.setdefault(cut.reason, []).append(vid)
    # e.g. the layers' inner results under one `with torch.no_grad():` line: one cut line together
    grouped = {reason: vids for reason, vids in unnamed.items() if len(vids) > 1}
    in_groups = {vid for vids in grouped.values() for vid in vids}
    for vid, cut in others:
        if vid not in in_groups:
            _cut_line(text, cut.reason, _cut_label(view, vid), _readers(view, [vid]))
    for reason, vids in grouped.items():
        ops = Counter(view.label(vid) for vid in vids)
        kinds = listed([op + (f" ×{n}" if n > 1 else "") for op, n in ops.most_common()], 4)
        _cut_line(text, reason, f"{len(vids)} unnamed results: {kinds}", _readers(view, vids))
    if elsewhere:
        places = listed([reason + (f" ×{n}" if n > 1 else "") for reason, n in elsewhere.most_common()], 3)
        lead = "+ outside the recorded backward graphs" if len(text) > len("Cuts") else \
            "none in a recorded backward graph; outside them"
        text.append(f"\n  {lead} (evaluation, metrics): {places}", style="dim")
    return text


def _unnamed(view: GraphView, vid: str) -> bool:
    t = view.tensor_of(vid)
    return t is None or (not t.name and not t.param_name and t.detached_from is None)


def _readers(view: GraphView, vids: list[str]) -> list[str]:
    readers = []
    for vid in vids:
        for e in view.consumers.get(vid, []):
            reader = module_of(view, e.dst) or view.label(e.dst)
            if reader not in readers:
                readers.append(reader)
    return readers


def _cut_line(text: Text, reason: str, label: str, readers: list[str]) -> None:
    text.append("\n  ✂ ", style="red")
    text.append(reason, style="red")
    text.append(f"  {label}")
    if readers:
        text.append(f" → {listed(readers, 3)}", style="dim")


def _cut_label(view: GraphView, vid: str) -> str:
    """A cut tensor by its name; an unnamed `x.detach()` as what it was detached from."""
    t = view.tensor_of(vid)
    label = view.label(vid)
    if t is not None and not t.name and t.detached_from is not None and t.detached_from in view.tensors:
        verb = ".data" if t.cut_op == "Tensor.data" else f".{t.cut_op}()"
        return view.label(f"t{t.detached_from}") + verb
    return label
