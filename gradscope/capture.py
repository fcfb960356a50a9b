"""The capture: what a traced run leaves behind, as plain data.

Everything after recording (analysis, rendering, `gradscope render`) works from a `Capture`
alone, so this module must never import torch. A capture round-trips through JSON exactly:
`Capture.from_json(json.loads(json.dumps(c.to_json()))) == c`.

Vertex ids: tensors are "t<N>", grad_fn nodes that no tensor owns are "n<N>"; edges connect
vertex ids in the forward direction (input -> output), gradient flows against them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from gradscope.errors import CaptureError

# 1: first format (tensors, nodes, edges, roots, variables, events, modules, optimizers, warnings).
# 2: grad_health (gradient norms per backward call site, parameter updates, NaN origins).
FORMAT_VERSION = 2

KINDS = (
    "parameter",
    "frozen",
    "nonleaf",
    "leaf",
    "inference",
    "detached",
    "no_grad",
    "nondiff",
    "constant",
)


@dataclass(slots=True)
class TensorInfo:
    """One tensor the script made or touched, described as it was when the script ended."""

    id: int
    name: str | None = None
    scope: str | None = None  # function the name was bound in; None at module level
    kind: str = "constant"
    requires_grad: bool = False
    is_leaf: bool = True
    grad_fn: str | None = None
    shape: list[int] | None = None
    dtype: str | None = None
    device: str | None = None
    file: str | None = None  # where it was made (or first seen)
    line: int | None = None
    op: str | None = None  # the op that made it
    detached_from: int | None = None
    cut_line: int | None = None  # the line of the detach / no_grad / inference_mode that made it
    cut_op: str | None = None  # detach | detach_ | Tensor.data | no_grad | inference_mode
    param_name: str | None = None
    module: str | None = None  # qualified name of the module whose forward made it
    grad_is_none: bool | None = None  # at exit; None when the tensor no longer existed
    grad_shape: list[int] | None = None
    grad_values: list[Any] | None = None  # only for small gradients
    grads: list[bool | None] = field(default_factory=list)  # per root: did that backward give it a gradient?
    alive: bool = True
    node: int | None = None  # id of its grad_fn (or AccumulateGrad) node
    is_parameter: bool = False
    inputs_required_grad: bool = False  # any input of the op that made it required grad
    grad_mode: bool = True  # grad mode when it was made
    user_no_grad: bool = False  # the user's own code had grad mode off when it was made
    inference_made: bool = False

    @property
    def vid(self) -> str:
        return f"t{self.id}"


@dataclass(slots=True)
class NodeInfo:
    """One autograd graph node (a grad_fn), unfolded."""

    id: int
    name: str
    tensor: int | None = None  # the tensor whose grad_fn this is, when known
    variable: int | None = None  # for AccumulateGrad: the leaf it accumulates into
    file: str | None = None
    line: int | None = None
    op: str | None = None
    module: str | None = None
    next: list[int | None] = field(default_factory=list)  # next_functions, None for empty slots
    saved: list[dict[str, Any]] = field(default_factory=list)  # [{"name", "shape", "dtype"}]

    @property
    def vid(self) -> str:
        return f"n{self.id}"


@dataclass(slots=True)
class EdgeInfo:
    """Data flowing from `src` into `dst`; `flows_grad` False marks a cut, `reason` says why."""

    src: str
    dst: str
    flows_grad: bool = True
    reason: str | None = None  # e.g. "detach() · line 7"
    cut: str | None = None  # kind of cut: detached, no_grad, frozen, constant, nondiff, inference
    line: int | None = None  # the line that cut it


@dataclass(slots=True)
class RootInfo:
    """A tensor the script backpropagated from (or, if it never did, a top-level output)."""

    tensor: int
    file: str | None = None
    line: int | None = None
    call: str = "backward"  # backward | autograd.backward | autograd.grad | implicit | selected
    step: int | None = None  # 1-based index among all backward calls; None when implicit
    calls: int = 1  # how many times this call site ran
    raised: str | None = None  # the error message when the backward call raised


@dataclass(slots=True)
class NormSeries:
    """Gradient norms of one parameter (or one module, or the whole model) at one backward call site.

    first/last/min/max/calls/zeros/nonfinite count every call; `median` comes from the kept series
    (`series_calls`, `series`: at most 512 points, evenly thinned). Non-finite norms are `null` in
    the series and left out of min/max/median.
    """

    of: str  # parameter | module | model
    name: str
    tensor: int | None = None  # for a parameter: its tensor id
    first: float | None = None
    last: float | None = None
    min: float | None = None
    max: float | None = None
    median: float | None = None
    calls: int = 0  # backward calls at this site that gave it a gradient
    zeros: int = 0  # calls whose gradient was exactly zero everywhere
    nonfinite: int = 0  # calls whose gradient held a NaN or an infinity
    first_nonfinite: int | None = None  # index (among all backward calls) of the first such call
    series_calls: list[int] = field(default_factory=list)  # index among all backward calls
    series: list[float | None] = field(default_factory=list)


@dataclass(slots=True)
class NormSite:
    """One line that called backward, with the norms of `.grad` right after each of its calls."""

    file: str | None = None
    line: int | None = None
    call: str = "backward"
    calls: int = 0  # backward calls at this site whose norms were taken
    accumulated: int = 0  # of those, calls with no optimizer step since the previous backward call
    series: list[NormSeries] = field(default_factory=list)


@dataclass(slots=True)
class ParamUpdate:
    """What the optimizer steps did to one parameter (for the optimizer audit)."""

    tensor: int
    steps_with_grad: int = 0  # optimizer steps taken while it had a non-zero gradient
    steps_changed: int = 0  # of those, steps after which its values had changed
    lr: float | None = None  # its group's learning rate at the last step


@dataclass(slots=True)
class NanOrigin:
    """Where the first NaN/Inf appeared (`--nan`): a forward op, or a backward node."""

    phase: str  # forward | backward
    value: str  # nan | inf
    op: str | None = None  # forward: the op; backward: the grad_fn class
    file: str | None = None
    line: int | None = None
    tensor: int | None = None  # forward: the output tensor
    name: str | None = None  # the variable it was bound to, when known at that moment
    module: str | None = None
    call: int = 0  # backward calls before it (0: during the first forward pass)
    inputs: list[str] = field(default_factory=list)  # the op's inputs, described ("x: [3] float32, min -2")
    inputs_finite: bool = True  # False: an input was already non-finite (it came from outside the ops seen)


@dataclass(slots=True)
class GradHealth:
    """Gradient health facts: norms per backward call, optimizer updates, NaN origins."""

    norms: bool = False  # norms were taken (off with --no-grad-norms)
    optimizer_steps: int = 0
    sites: list[NormSite] = field(default_factory=list)
    updates: list[ParamUpdate] = field(default_factory=list)
    clip_max_norm: float | None = None  # the max_norm the script passed to clip_grad_norm_
    grad_scaler: bool = False  # the script unscaled gradients with a GradScaler
    nan_checked: bool = False  # run with --nan
    nan: list[NanOrigin] = field(default_factory=list)


@dataclass
class Capture:
    script: str = ""
    argv: list[str] = field(default_factory=list)
    torch_version: str = ""
    exit: dict[str, Any] = field(default_factory=lambda: {"code": 0, "exception": None})
    tensors: list[TensorInfo] = field(default_factory=list)
    nodes: list[NodeInfo] = field(default_factory=list)
    edges: list[EdgeInfo] = field(default_factory=list)
    roots: list[RootInfo] = field(default_factory=list)
    variables: dict[str, int] = field(default_factory=dict)
    backward_calls: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)  # notable moments for findings
    modules: list[dict[str, Any]] = field(default_factory=list)  # {"name", "type", "params"}
    optimizers: list[dict[str, Any]] = field(default_factory=list)  # {"name", "type", "params"}
    warnings: list[dict[str, Any]] = field(default_factory=list)  # {"category", "message", "file", "line"}
    grad_health: GradHealth | None = None
    format_version: int = FORMAT_VERSION

    # -- lookups -------------------------------------------------------------------------------
    def tensor(self, tid: int) -> TensorInfo:
        return self._tensor_index()[tid]

    def _tensor_index(self) -> dict[int, TensorInfo]:
        index = self.__dict__.get("_tindex")
        if index is None or len(index) != len(self.tensors):
            index = {t.id: t for t in self.tensors}
            self.__dict__["_tindex"] = index
        return index

    def by_name(self, name: str) -> list[TensorInfo]:
        """Tensors bound to `name` (or with that parameter name), in the order they were made."""
        return [t for t in self.tensors if name in (t.name, t.param_name)]

    # -- JSON ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "script": self.script,
            "argv": list(self.argv),
            "torch_version": self.torch_version,
            "exit": self.exit,
            "tensors": [_asdict(t) for t in self.tensors],
            "nodes": [_asdict(n) for n in self.nodes],
            "edges": [_asdict(e) for e in self.edges],
            "roots": [_asdict(r) for r in self.roots],
            "variables": dict(self.variables),
            "backward_calls": self.backward_calls,
            "events": self.events,
            "modules": self.modules,
            "optimizers": self.optimizers,
            "warnings": self.warnings,
            "grad_health": _health_json(self.grad_health),
        }

    def dumps(self) -> str:
        # No indent: an indented dump runs json's pure-Python encoder, 10x slower on a big graph.
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, data: Any) -> Capture:
        """Build a Capture from parsed JSON; anything malformed raises CaptureError."""
        if not isinstance(data, dict):
            raise CaptureError("not a gradscope capture (expected a JSON object)")
        version = data.get("format_version")
        if version is None:
            raise CaptureError("not a gradscope capture (no format_version)")
        if not isinstance(version, int) or isinstance(version, bool):
            raise CaptureError(f"unknown format_version {version!r}")
        if version > FORMAT_VERSION:
            raise CaptureError(
                f"capture format_version {version} is newer than this gradscope reads ({FORMAT_VERSION});"
                " upgrade gradscope"
            )
        if version < 1:
            raise CaptureError(f"unknown format_version {version}")
        try:
            capture = cls(
                script=_typed(data.get("script", ""), str, "script"),
                argv=_str_list(data.get("argv", []), "argv"),
                torch_version=_typed(data.get("torch_version", ""), str, "torch_version"),
                exit=_exit(data.get("exit", {"code": 0, "exception": None})),
                tensors=[_load(TensorInfo, t, "tensors") for t in _typed(data.get("tensors", []), list, "tensors")],
                nodes=[_load(NodeInfo, n, "nodes") for n in _typed(data.get("nodes", []), list, "nodes")],
                edges=[_load(EdgeInfo, e, "edges") for e in _typed(data.get("edges", []), list, "edges")],
                roots=[_load(RootInfo, r, "roots") for r in _typed(data.get("roots", []), list, "roots")],
                variables=_variables(data.get("variables", {})),
                backward_calls=_typed(data.get("backward_calls", 0), int, "backward_calls"),
                events=_dict_list(data.get("events", []), "events"),
                modules=_dict_list(data.get("modules", []), "modules"),
                optimizers=_dict_list(data.get("optimizers", []), "optimizers"),
                warnings=_dict_list(data.get("warnings", []), "warnings"),
                grad_health=_load_health(data.get("grad_health")),
                format_version=version,
            )
        except (TypeError, ValueError) as exc:  # pragma: no cover - _load converts these already
            raise CaptureError(f"malformed capture: {exc}") from None
        _check_references(capture)
        return capture

    @classmethod
    def loads(cls, text: str) -> Capture:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise CaptureError(f"not valid JSON ({exc})") from None
        return cls.from_json(data)


def _asdict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def _health_json(health: GradHealth | None) -> dict[str, Any] | None:
    if health is None:
        return None
    out = _asdict(health)
    out["sites"] = [dict(_asdict(s), series=[_asdict(n) for n in s.series]) for s in health.sites]
    out["updates"] = [_asdict(u) for u in health.updates]
    out["nan"] = [_asdict(n) for n in health.nan]
    return out


def _load_health(raw: Any) -> GradHealth | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise CaptureError("malformed capture: grad_health should be an object")
    flat = {k: v for k, v in raw.items() if k not in ("sites", "updates", "nan")}
    health = _load(GradHealth, flat, "grad_health")
    for site in _typed(raw.get("sites", []), list, "grad_health.sites"):
        if not isinstance(site, dict):
            raise CaptureError("malformed capture: each entry of grad_health.sites should be an object")
        loaded = _load(NormSite, {k: v for k, v in site.items() if k != "series"}, "grad_health.sites")
        loaded.series = [_load(NormSeries, n, "grad_health.sites.series")
                         for n in _typed(site.get("series", []), list, "grad_health.sites.series")]
        health.sites.append(loaded)
    health.updates = [_load(ParamUpdate, u, "grad_health.updates")
                      for u in _typed(raw.get("updates", []), list, "grad_health.updates")]
    health.nan = [_load(NanOrigin, n, "grad_health.nan") for n in _typed(raw.get("nan", []), list, "grad_health.nan")]
    return health


# -- validation helpers: a capture may be hand-edited or truncated, so check every field ---------

_FIELD_TYPES = {
    "int": int,
    "str": str,
    "bool": bool,
    "float": (int, float),
}


def _typed(value: Any, typ: type | tuple, where: str) -> Any:
    what = getattr(typ, "__name__", "a number")
    if typ is not bool and isinstance(value, bool):
        raise CaptureError(f"malformed capture: {where} should be {what}")
    if not isinstance(value, typ):
        raise CaptureError(f"malformed capture: {where} should be {what}")
    return value


def _str_list(value: Any, where: str) -> list[str]:
    _typed(value, list, where)
    for item in value:
        _typed(item, str, where)
    return list(value)


def _dict_list(value: Any, where: str) -> list[dict[str, Any]]:
    _typed(value, list, where)
    for item in value:
        _typed(item, dict, where)
    return list(value)


def _variables(value: Any) -> dict[str, int]:
    _typed(value, dict, "variables")
    for key, tid in value.items():
        _typed(tid, int, f"variables[{key!r}]")
    return dict(value)


def _exit(value: Any) -> dict[str, Any]:
    _typed(value, dict, "exit")
    code = value.get("code", 0)
    if code is not None:
        _typed(code, int, "exit.code")
    exc = value.get("exception")
    if exc is not None:
        _typed(exc, dict, "exit.exception")
    return {"code": code, "exception": exc}


def _check_value(annotation: str, value: Any, where: str) -> None:
    """Check `value` against a dataclass field annotation written as a string."""
    if value is None:
        if "None" in annotation:
            return
        raise CaptureError(f"malformed capture: {where} must not be null")
    base = annotation.removesuffix(" | None")  # only the outer one: list[bool | None] keeps its inner None
    if base in _FIELD_TYPES:
        _typed(value, _FIELD_TYPES[base], where)
    elif base.startswith("list["):
        _typed(value, list, where)
        inner = base[5:-1]
        inner_base = inner.replace(" | None", "")
        for item in value:
            if item is None and inner != inner_base:
                continue
            if inner_base in _FIELD_TYPES:
                _typed(item, _FIELD_TYPES[inner_base], where)
            elif inner_base.startswith("dict"):
                _typed(item, dict, where)


def _load(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise CaptureError(f"malformed capture: each entry of {where} should be an object")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in raw:
            _check_value(str(f.type), raw[f.name], f"{where}.{f.name}")
            kwargs[f.name] = raw[f.name]
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise CaptureError(f"malformed capture: an entry of {where} has no {f.name!r}")
    obj = cls(**kwargs)
    if isinstance(obj, TensorInfo) and obj.kind not in KINDS:
        raise CaptureError(f"malformed capture: unknown tensor kind {obj.kind!r}")
    return obj


def _check_references(capture: Capture) -> None:
    tensor_ids = {t.id for t in capture.tensors}
    node_ids = {n.id for n in capture.nodes}
    if len(tensor_ids) != len(capture.tensors) or len(node_ids) != len(capture.nodes):
        raise CaptureError("malformed capture: duplicate tensor or node ids")
    vertices = {f"t{i}" for i in tensor_ids} | {f"n{i}" for i in node_ids}
    for edge in capture.edges:
        if edge.src not in vertices or edge.dst not in vertices:
            raise CaptureError(f"malformed capture: edge {edge.src}->{edge.dst} names an unknown vertex")
    for root in capture.roots:
        if root.tensor not in tensor_ids:
            raise CaptureError(f"malformed capture: root names unknown tensor {root.tensor}")
    for name, tid in capture.variables.items():
        if tid not in tensor_ids:
            raise CaptureError(f"malformed capture: variable {name!r} names unknown tensor {tid}")
    for node in capture.nodes:
        for nxt in node.next:
            if nxt is not None and nxt not in node_ids:
                raise CaptureError(f"malformed capture: node {node.id} points at unknown node {nxt}")
        for ref in (node.tensor, node.variable):
            if ref is not None and ref not in tensor_ids:
                raise CaptureError(f"malformed capture: node {node.id} names unknown tensor {ref}")
