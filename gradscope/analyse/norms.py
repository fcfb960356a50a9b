"""Gradient norms read back from a capture: the units findings and views talk about (modules, or
loose trainable tensors), and the numbers they compare (per-call medians, growth). No torch."""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import dataclass

from gradscope.capture import Capture, NormSeries, NormSite

MIN_CALLS = 10  # no finding from numbers before this many recorded calls at a site
EDGE_POINTS = 10  # kept points whose median stands for "early" and "late"


@dataclass(slots=True)
class Unit:
    """A module (its own parameters together), or a trainable tensor that no module holds."""

    series: NormSeries
    tensors: list[int]  # the capture tensor ids of its parameters

    @property
    def name(self) -> str:
        return self.series.name

    def points(self) -> dict[int, float | None]:
        return dict(zip(self.series.series_calls, self.series.series))


def natural_key(name: str):
    """`model.2` before `model.10`."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def units(capture: Capture, site: NormSite) -> list[Unit]:
    modules = {m.get("name"): m for m in capture.modules}
    out = []
    covered: set[int] = set()
    for s in site.series:
        if s.of == "module":
            params = [p for p in modules.get(s.name, {}).get("params", [])]
            covered.update(params)
            out.append(Unit(s, params))
    for s in site.series:
        if s.of == "parameter" and s.tensor not in covered:
            out.append(Unit(s, [s.tensor] if s.tensor is not None else []))
    out.sort(key=lambda u: natural_key(u.name))
    return out


def model_series(site: NormSite) -> NormSeries | None:
    return next((s for s in site.series if s.of == "model"), None)


def call_medians(units_: list[Unit]) -> dict[int, float]:
    """For each kept call, the median of the units' positive finite norms at that call."""
    at: dict[int, list[float]] = {}
    for unit in units_:
        for call, value in unit.points().items():
            if value:
                at.setdefault(call, []).append(value)
    return {call: statistics.median(values) for call, values in at.items()}


def growth(series: NormSeries, over: int = 20) -> tuple[float, int, int] | None:
    """(peak / early, first call, peak call): `early` is the median of the first EDGE_POINTS positive
    finite kept norms, `peak` the largest one at least `over` calls after the first; None when the
    series is too short for that."""
    points = [(c, v) for c, v in zip(series.series_calls, series.series) if v]
    if len(points) < EDGE_POINTS:
        return None
    start = points[0][0]
    late = [(v, c) for c, v in points if c - start >= over]
    if not late:
        return None
    early = statistics.median(v for _, v in points[:EDGE_POINTS])
    peak, at = max(late)
    return peak / early, start, at


def span(calls: list[int]) -> str:
    calls = sorted(calls)
    if not calls:
        return ""
    return f"call {calls[0]}" if calls[0] == calls[-1] else f"calls {calls[0]}–{calls[-1]}"


# -- the norms the views show: right after a recorded backward call ---------------------------------


@dataclass(slots=True)
class RecordedNorm:
    value: float  # the 2-norm of `.grad` (NaN or Inf when the gradient held one)
    call: int  # right after this backward call (1-based index among all backward calls)


def tensors_given_gradient(capture: Capture) -> set[int]:
    """Tensors whose gradient norm was non-zero (or non-finite) after at least one backward call: the
    norms are taken at every call, not only the recorded ones."""
    health = capture.grad_health
    if health is None:
        return set()
    return {s.tensor for site in health.sites for s in site.series
            if s.of == "parameter" and s.tensor is not None and s.calls > s.zeros}


def norm_history(capture: Capture) -> dict[int, dict[int, float]]:
    """Tensor id -> {recorded backward call -> the norm of its gradient right after that call}, for the
    calls the module view's ✓/✗ are about. Empty when no norms were taken."""
    health = capture.grad_health
    if health is None or not health.norms:
        return {}
    out: dict[int, dict[int, float]] = {}
    for site in health.sites:
        for s in site.series:
            if s.of == "parameter" and s.tensor is not None:
                for call, value in _recorded_points(capture, site, s):
                    out.setdefault(s.tensor, {})[call] = value
    return out


def combined_history(history: dict[int, dict[int, float]], tensors) -> dict[int, float]:
    """Recorded call -> the norm of several tensors' gradients together (a module's) right after it, for
    each call that left any of them one; those without a gradient then count as zero."""
    squares: dict[int, float] = {}
    for tid in dict.fromkeys(tensors):
        for call, value in history.get(tid, {}).items():
            squares[call] = squares.get(call, 0.0) + value * value
    return {call: math.sqrt(total) for call, total in sorted(squares.items())}


def _recorded_points(capture: Capture, site: NormSite, s: NormSeries):
    if site.recorded_call is not None:  # format 6: kept apart at the recorded call
        if s.recorded is not None:
            yield site.recorded_call, _number(s.recorded)
        return
    # format 5: the recorded calls' points, where the thinned series kept them (it keeps each site's first)
    points = dict(zip(s.series_calls, s.series))
    for root in capture.roots:
        if root.step is not None and points.get(root.step) is not None:
            yield root.step, points[root.step]


def _number(value: float | str) -> float:
    try:
        return float(value)
    except ValueError:  # text other than nan/inf: not a norm
        return math.nan


def latest_norm(history: dict[int, dict[int, float]], tensors) -> RecordedNorm | None:
    """The norm of several tensors' gradients together (a module's) at the latest recorded call that
    left any of them one (`combined_history`'s last point); those without a gradient after that call
    count as zero, as in `clip_grad_norm_`."""
    combined = combined_history(history, tensors)
    if not combined:
        return None
    last = max(combined)
    return RecordedNorm(combined[last], last)
