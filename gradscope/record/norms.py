"""Gradient norms of every trainable tensor at the end of every backward call, and what each
optimizer step did to the parameters (issue 14).

Cheap by construction: one `torch._foreach_norm` per device and one host transfer per backward
call (no `.item()` per parameter), one more of each per optimizer step. On a GPU the transfer does
not wait: the norms are copied to pinned host memory behind the work already queued, and read a
call or more later, once the copy is done (`HostValues`, `NormTracker.pending`). So the script's own
stream is never synchronised by gradscope, and the numbers are those of the call they belong to,
applied to the summaries in call order. On the CPU they are read at once. Summaries are bounded:
exact first/last/min/max/counts, and a series of at most SERIES_MAX points thinned evenly
(every other point is dropped when it is full, and from then on every 2nd, 4th... call is kept).
Nothing here keeps a tensor alive: tensors are reached through the recorder's weak references.

Dead units: for the weight of each `nn.Linear` (one row per output unit), a boolean per row says
whether that row's gradient was ever non-zero after a call; a weight stops being watched (its mask
dropped) as soon as every row has been, so a healthy model pays this at its first calls only.
"""

from __future__ import annotations

import math
import weakref
from collections import deque

import torch

from gradscope.record.paths import frame_line
from gradscope.record.torch_private import foreach_norm
from gradscope.record.torchfiles import torch_files

SERIES_MAX = 512
PENDING_MAX = 8  # transfers in flight before the oldest is waited for (bounds the lag and the memory)
DEAD_ROWS_KEPT = 32  # indices of dead rows kept per weight (all are counted)
_strided = torch.strided
_CLIP_FILE = torch_files("nn/utils/clip_grad.py")
_SCALER_FILE = torch_files("amp/grad_scaler.py")


class Series:
    """Exact aggregates of a stream of norms, plus an evenly thinned series of at most SERIES_MAX."""

    __slots__ = ("first", "last", "min", "max", "calls", "zeros", "nonfinite", "first_nonfinite",
                 "stride", "seen", "at", "values", "recorded")

    def __init__(self):
        self.first = self.last = self.min = self.max = None
        self.recorded = None  # the norm after the call whose graph was recorded
        self.calls = self.zeros = self.nonfinite = self.seen = 0
        self.first_nonfinite = None
        self.stride = 1
        self.at: list[int] = []
        self.values: list[float | None] = []

    def add(self, call: int, value: float, recorded: bool = False) -> None:
        self.calls += 1
        if recorded:
            self.recorded = value
        finite = math.isfinite(value)
        if self.first is None:
            self.first = value if finite else None
        if finite:
            self.last = value
            if self.min is None or value < self.min:
                self.min = value
            if self.max is None or value > self.max:
                self.max = value
            if value == 0.0:
                self.zeros += 1
        else:
            self.last = None
            self.nonfinite += 1
            if self.first_nonfinite is None:
                self.first_nonfinite = call
        self.seen += 1
        if (self.seen - 1) % self.stride == 0:
            self.at.append(call)
            self.values.append(value if finite else None)
            if len(self.at) > SERIES_MAX:
                self.at = self.at[::2]
                self.values = self.values[::2]
                self.stride *= 2

    def median(self) -> float | None:
        kept = sorted(v for v in self.values if v is not None)
        if not kept:
            return None
        mid = len(kept) // 2
        return kept[mid] if len(kept) % 2 else (kept[mid - 1] + kept[mid]) / 2


class Site:
    """The norms taken after each call of one backward line."""

    __slots__ = ("call", "file", "line", "calls", "accumulated", "params", "modules", "model", "recorded_call",
                 "rows")

    def __init__(self, call, file, line):
        self.call, self.file, self.line = call, file, line
        self.calls = self.accumulated = 0
        self.recorded_call = None  # the call (index among all backward calls) whose graph was recorded
        self.rows: dict[int, Rows] = {}  # record id -> its rows (Linear weights only)
        self.params: dict[int, tuple] = {}  # record id -> (record, Series)
        self.modules: dict[int, Series] = {}  # id(module) -> Series of its own parameters' norm
        self.model = Series()  # all tracked tensors together


class Rows:
    """Which output units (rows) of a Linear weight ever got a non-zero gradient at a site's calls."""

    __slots__ = ("count", "alive", "done")

    def __init__(self, count: int):
        self.count = count
        self.alive = None  # bool tensor [count]: which rows have had a non-zero gradient so far
        self.done = False  # every row has: the mask is dropped and the weight no longer watched

    def dead(self) -> list[int]:
        if self.alive is None:
            return []
        return (~self.alive).nonzero().flatten().tolist()


class Update:
    """What optimizer steps did to one parameter: steps with a non-zero gradient, and how many changed it."""

    __slots__ = ("rec", "with_grad", "changed", "lr")

    def __init__(self, rec):
        self.rec = rec
        self.with_grad = self.changed = 0
        self.lr = None


class NormTracker:
    def __init__(self, recorder):
        self.recorder = recorder
        self.sites: dict[tuple, Site] = {}
        self.tracked: dict[int, tuple] = {}  # record id -> (record, weak ref)
        self.owner: dict[int, int | None] = {}  # record id -> id(module) holding it directly
        self.module_refs: dict[int, weakref.ref] = {}
        self.seen_params = 0
        self.optimizer_sizes: dict[int, int] = {}
        self.updates: dict[int, Update] = {}
        self.last_norm: dict[int, float] = {}  # record id -> its gradient's norm at the latest call
        self.before = None  # (optimizer, parameter norms) from just before its step
        self.steps = 0
        self.stepped = True  # an optimizer step since the previous backward call (True: none yet)
        self.clip_max_norm = None
        self.clip_line = None  # the script's line that called clip_grad_norm_ (the latest call)
        self.grad_scaler = False
        self.unit_rows: dict[int, bool] = {}  # record id -> it is a Linear's weight (rows are units)
        self.pending: deque = deque()  # (transfers, apply) in call order (see the module doc)

    # -- which tensors ---------------------------------------------------------------------------
    def track(self, rec) -> None:
        """A leaf the user made trainable (`requires_grad=True`, bound to a name)."""
        if rec.id not in self.tracked and rec.ref is not None:
            self.tracked[rec.id] = (rec, rec.ref)

    def _refresh(self) -> None:
        params = self.recorder.modules.params
        if len(params) != self.seen_params:
            for rec in list(params.values())[self.seen_params:]:
                self.track(rec)
            self.seen_params = len(params)
        for _, ref in self.recorder.modules.optimizer_refs():
            opt = ref()
            if opt is None:
                continue
            size = sum(len(g["params"]) for g in opt.param_groups)
            if self.optimizer_sizes.get(id(opt)) != size:
                self.optimizer_sizes[id(opt)] = size
                for group in opt.param_groups:
                    for p in group["params"]:
                        self.track(self.recorder.record_for(p))

    # -- after each backward call ----------------------------------------------------------------
    def after_backward(self, call: str, file, line, recorded: bool = False) -> None:
        """Take the norms of every tracked tensor's `.grad` as it is right after this call."""
        self._refresh()
        recs, grads, tensors = [], [], []
        for rec, ref in self.tracked.values():
            t = ref()
            if t is None:
                continue
            g = t.grad
            if g is not None and _measurable(g):
                recs.append(rec)
                grads.append(g)
                tensors.append(t)
        step = self.recorder.backward_count
        key = (call, file, line)
        site = self.sites.get(key)
        if site is None:
            site = self.sites[key] = Site(call, file, line)
        site.calls += 1
        if recorded:
            site.recorded_call = step
        if not self.stepped:
            site.accumulated += 1
        self.stepped = False
        if not grads:
            return
        # in float64: a float32 square of 1e20 (or of 1e-20) would read as Inf (or 0) though no value is
        self._defer([_norms(grads, exact=True)], lambda values: self._add_norms(site, step, recs, values, recorded))
        self._watch_rows(site, recs, grads, tensors)

    def _add_norms(self, site: Site, step: int, recs, values, recorded: bool) -> None:
        modules: dict[int, float] = {}
        total = 0.0
        params = site.params
        for rec, value in zip(recs, values):
            entry = params.get(rec.id)
            if entry is None:
                entry = params[rec.id] = (rec, Series())
            entry[1].add(step, value, recorded)
            self.last_norm[rec.id] = value if math.isfinite(value) else 0.0
            owner = self.owner.get(rec.id, -1)
            if owner == -1:
                owner = self._find_owner(rec)
            if owner is not None:
                modules[owner] = modules.get(owner, 0.0) + value * value
            total += value * value
        for owner, squared in modules.items():
            series = site.modules.get(owner)
            if series is None:
                series = site.modules[owner] = Series()
            series.add(step, math.sqrt(squared), recorded)
        site.model.add(step, math.sqrt(total), recorded)

    # -- reading transfers in call order -----------------------------------------------------------
    def _defer(self, values: list[HostValues], apply) -> None:
        """`apply(*read values)` once their copies are done, after everything deferred before it."""
        self.pending.append((values, apply))
        self.flush(max(0, len(self.pending) - PENDING_MAX))

    def flush(self, wait_for: int | None = None) -> None:
        """Apply, in order, the deferred values whose copies are done, waiting for the first `wait_for`
        of them (None: for all, as when the capture is built)."""
        pending = self.pending
        while pending:
            values, apply = pending[0]
            if wait_for is None or wait_for > 0 or all(v.done() for v in values):
                pending.popleft()
                if wait_for:
                    wait_for -= 1
                apply(*[v.read() for v in values])
            else:
                break

    def _watch_rows(self, site: Site, recs, grads, tensors) -> None:
        """Note which rows of each Linear weight got a non-zero gradient at this call (see the module doc)."""
        pending, masks = [], []
        for rec, g, t in zip(recs, grads, tensors):
            watch = site.rows.get(rec.id)
            if watch is None:
                if g.dim() != 2 or g.shape[0] == 0 or not self._is_unit_rows(rec, t):
                    continue
                watch = site.rows[rec.id] = Rows(g.shape[0])
            elif watch.done:
                continue
            with torch.no_grad():
                nonzero = g.ne(0).any(dim=1)
                watch.alive = nonzero if watch.alive is None else watch.alive.logical_or_(nonzero)
                masks.append(watch.alive.all())
            pending.append(watch)
        if not pending:
            return
        self._defer([HostValues.of(masks)], lambda flags: _stop_watching(pending, flags))

    def _is_unit_rows(self, rec, t) -> bool:
        """A Linear's weight: its rows are the layer's output units (an Embedding's rows are tokens)."""
        known = self.unit_rows.get(rec.id)
        if known is None:
            owner = self.owner.get(rec.id, -1)
            if owner == -1:
                owner = self._find_owner(rec)
            ref = self.module_refs.get(owner) if owner is not None else None
            module = ref() if ref is not None else None
            known = self.unit_rows[rec.id] = (isinstance(module, torch.nn.Linear)
                                              and module._parameters.get("weight") is t)
        return known

    def on_parameter_registered(self, module, rec) -> None:
        """The first module a parameter is registered on owns it (a tied weight: the first user)."""
        if rec.id not in self.owner:
            self.owner[rec.id] = id(module)
            self.module_refs[id(module)] = weakref.ref(module)

    def _find_owner(self, rec) -> int | None:
        """For a parameter registered before tracing: a module that holds it directly."""
        t = rec.tensor()
        owner = None
        if t is not None:
            for module in self.recorder.modules.live_modules():
                if any(p is t for p in module._parameters.values()):
                    owner = id(module)
                    self.module_refs[owner] = weakref.ref(module)
                    break
        self.owner[rec.id] = owner
        return owner

    # -- around each optimizer step ---------------------------------------------------------------
    def before_step(self, optimizer, applies_nothing: bool) -> None:
        if applies_nothing:
            self.before = None  # zero_grad() came before it: not a step for the optimizer audit (GS803)
            return
        self.before = (optimizer, _norms(_step_params(optimizer), exact=True))

    def on_zero_grad(self) -> None:
        self.stepped = True  # the next backward call starts from cleared gradients: not accumulated

    def after_step(self, optimizer) -> None:
        """Note which parameters with a non-zero gradient this step changed (their norm moved)."""
        self.steps += 1
        self.stepped = True
        before = self.before
        self.before = None
        if before is None or before[0] is not optimizer:
            return
        params = _step_params(optimizer)
        lrs = [group.get("lr") for group in optimizer.param_groups for p in group["params"] if _measurable(p)]
        recs = [self.recorder.record_for(p) if p.grad is not None else None for p in params]
        after = _norms(params, exact=True)
        self._defer([before[1], after], lambda old, new: self._note_updates(recs, lrs, old, new))

    def _note_updates(self, recs, lrs, before, after) -> None:
        if len(after) != len(before):
            return  # the step changed the parameter groups
        for rec, lr, old, new in zip(recs, lrs, before, after):
            if rec is None or not self.last_norm.get(rec.id):
                continue
            update = self.updates.get(rec.id)
            if update is None:
                update = self.updates[rec.id] = Update(rec)
            update.with_grad += 1
            update.changed += new != old
            update.lr = float(lr) if isinstance(lr, (int, float)) else None

    # -- facts from library frames ---------------------------------------------------------------
    def on_library_grad_off(self, frame) -> None:
        """A library turned grad mode off: note gradient clipping's max_norm and GradScaler's unscale."""
        path = frame.f_code.co_filename
        if path in _CLIP_FILE:
            value = _clip_max_norm(frame.f_locals)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self.clip_max_norm = float(value)
                user = self.recorder.user_files.innermost_user_frame(frame)
                self.clip_line = frame_line(user) if user is not None else None
        elif path in _SCALER_FILE:
            self.grad_scaler = True


def _measurable(t) -> bool:
    """A tensor whose 2-norm we can read: dense and holding data (not meta). A sparse gradient is left
    out (the README says so)."""
    return t.layout is _strided and not t.is_meta


def _step_params(optimizer) -> list:
    return [p for group in optimizer.param_groups for p in group["params"] if _measurable(p)]


def _norms(tensors, exact: bool = False) -> HostValues:
    """The 2-norm of each tensor: one `_foreach_norm` and one transfer per device. `exact`: accumulated in
    float64 (where the device has it), so that a step that changes a parameter by far less than float32
    resolves in its norm (a bias of -100 moving by 1e-6) still shows."""
    groups = []
    with torch.no_grad():
        for device, indices in _by_device(tensors).items():
            dtype = torch.float64 if exact and device.type != "mps" else None
            groups.append((device, indices, foreach_norm([_real(tensors[i]) for i in indices], dtype)))
    return HostValues(len(tensors), groups)


def _real(t):
    """A complex tensor as its real view (the same 2-norm): the norm's float64 dtype is real."""
    if not t.is_complex():
        return t
    return torch.view_as_real(t.resolve_conj() if t.is_conj() else t)


def _by_device(tensors) -> dict:
    """device -> the indices of the tensors on it, in order."""
    by_device: dict = {}
    for i, t in enumerate(tensors):
        by_device.setdefault(t.device, []).append(i)
    return by_device


class HostValues:
    """Scalars on their devices, as Python values in their order, from one stacked copy per device. On a
    GPU the copy goes to pinned host memory without waiting (`non_blocking`), and a CUDA event recorded
    behind it on the current stream says when it is done."""

    __slots__ = ("count", "parts")

    def __init__(self, count: int, groups):
        """`groups`: (device, indices, the scalars at those indices), one per device."""
        self.count = count
        self.parts = []  # (indices, host tensor, event or None)
        for device, indices, group in groups:  # (the scalars were made under no_grad: no graph here)
            if len({s.dtype for s in group}) > 1:
                group = [s.float() for s in group]
            stacked = torch.stack(group)
            if device.type == "cuda":
                host = stacked.to("cpu", non_blocking=True)  # torch pins the destination
                event = torch.cuda.Event()
                event.record(torch.cuda.current_stream(device))
            else:
                host, event = stacked.cpu(), None
            self.parts.append((indices, host, event))

    @classmethod
    def of(cls, scalars: list) -> HostValues:
        return cls(len(scalars), [(device, indices, [scalars[i] for i in indices])
                                  for device, indices in _by_device(scalars).items()])

    def done(self) -> bool:
        return all(event is None or event.query() for _, _, event in self.parts)

    def read(self) -> list:
        out = [None] * self.count
        for indices, host, event in self.parts:
            if event is not None:
                event.synchronize()
            for i, v in zip(indices, host.tolist()):
                out[i] = v
        return out


def _stop_watching(watches: list, flags: list) -> None:
    for watch, every_row in zip(watches, flags):
        if every_row:  # every row has had a gradient: nothing dead can be found any more
            watch.alive = None
            watch.done = True


def _clip_max_norm(local_vars: dict):
    """`max_norm` of a `clip_grad_norm_` call, read from its frame (or from its `_no_grad` wrapper's)."""
    if "max_norm" in local_vars:
        return local_vars["max_norm"]
    func = local_vars.get("func")
    if getattr(func, "__name__", None) != "clip_grad_norm_":
        return None
    args, kwargs = local_vars.get("args") or (), local_vars.get("kwargs") or {}
    return args[1] if len(args) > 1 else kwargs.get("max_norm")
