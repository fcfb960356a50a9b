"""The capture: what a traced run leaves behind, as plain data.

Everything after recording (analysis, rendering, `gradscope render`) works from a `Capture`
alone, so this module must never import torch. A capture round-trips through JSON exactly:
`Capture.loads(c.dumps()) == c`.

The records (events included: one typed record per kind) are msgspec `Struct`s and the few dict-shaped parts are `TypedDict`s: the type annotations
below *are* the schema (docs/capture-format.md), and msgspec decodes and validates a file against it
in one pass, so `render` and `explain` never see a value of the wrong type, a null where a list
belongs, a negative id or count, or an integer outside int64.

Vertex ids: tensors are "t<N>", grad_fn nodes that no tensor owns are "n<N>"; edges connect
vertex ids in the forward direction (input -> output), gradient flows against them.
"""

import contextlib
import gc
import math
import re
from typing import Annotated, Any, Literal, NotRequired, TypedDict

import msgspec

from gradscope.errors import CaptureError

# 1: first format (tensors, nodes, edges, roots, variables, events, modules, optimizers, warnings).
# 2: strict JSON (non-finite numbers as "nan"/"inf"/"-inf" strings, never NaN/Infinity); every field typed.
# 3: diagnostics (gradscope's own failures while recording: where, what, how often).
# 4: stopped_after (the N of --stop-after when it ended the script).
# 5: grad_health (gradient norms per backward call site, parameter updates, NaN origins).
# 6: typed events (one record per kind; `replaced`), the exception's frames with their tensor locals, norms after
#    each site's recorded call (NormSite.recorded_call, NormSeries.recorded) and dead rows of Linear weights.
# 7: `dropped` (what each cap on recording left out); a tensor's `frozen_line`; events past a line's cap: its latest;
#    `sources` (the text of the lines tensors and nodes were made at).
# 8: a `cut` event's kind `grad` (gradients autograd.grad returned without create_graph=True); `cleared_grads`;
#    a module's `grad_buffers`; a NaN origin's `inputs_inf`.
# 9: `value_fed` (a number read out of a tensor that requires grad, given to a tensor op as an operand);
#    grad_health's `clip_line`; a tensor's `cut_def_line`; a module's `grad_attrs`.
FORMAT_VERSION = 9

Kind = Literal["parameter", "frozen", "nonleaf", "leaf", "inference", "detached", "no_grad", "nondiff", "constant"]
KINDS: tuple[str, ...] = Kind.__args__

_INT64_MAX = 2**63 - 1
Int = Annotated[int, msgspec.Meta(ge=-(2**63), le=_INT64_MAX)]  # any int64 (exit codes)
Index = Annotated[int, msgspec.Meta(ge=0, le=_INT64_MAX)]  # ids, counts, sizes, line numbers
Vertex = Annotated[str, msgspec.Meta(pattern=r"^[tn][0-9]{1,19}$")]
# A value: a number or its text ("nan", "inf", "-inf", complex values, integers outside int64, written so since
# format 2; format 1 wrote e.g. NllLoss's ignore_index as the uint64 18446744073709551516).
Scalar = bool | int | float | str


def json_scalar(value: Any) -> Any:
    """A scalar as strict JSON and this schema hold it: non-finite floats become "nan", "inf" or
    "-inf", integers outside int64 become their digits (as text). Runs for every saved value of every
    node a snapshot walks: the common exact types go first."""
    kind = type(value)
    if kind is int and -(2**63) <= value <= _INT64_MAX or kind is str or kind is bool:
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value <= _INT64_MAX:
        return str(value)
    return value


class _Record(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """Base of the capture's records: a field this version does not know is a schema error. Records
    hold only scalars and lists of scalars, never cycles: `gc=False` keeps the collector off them."""


class TensorInfo(_Record):
    """One tensor the script made or touched, described as it was when the script ended."""

    id: Index
    name: str | None = None
    scope: str | None = None  # function the name was bound in; None at module level
    kind: Kind = "constant"
    requires_grad: bool = False
    is_leaf: bool = True
    grad_fn: str | None = None
    shape: list[Index] | None = None
    dtype: str | None = None
    device: str | None = None
    file: str | None = None  # where it was made (or first seen)
    line: Index | None = None
    op: str | None = None  # the op that made it
    detached_from: Index | None = None
    cut_line: Index | None = None  # the line of the detach / no_grad / inference_mode that made it
    cut_def_line: Index | None = None  # made in a function decorated with @torch.no_grad(): its line (format 9)
    cut_op: str | None = None  # detach | detach_ | Tensor.data | no_grad | inference_mode
    frozen_line: Index | None = None  # the last line that set requires_grad=False on it (format 7)
    param_name: str | None = None
    module: str | None = None  # qualified name of the module whose forward made it
    grad_is_none: bool | None = None  # at exit; None when the tensor no longer existed
    grad_shape: list[Index] | None = None
    grad_values: list[Scalar] | None = None  # only for small gradients; non-finite ones as text
    grads: list[bool | None] = msgspec.field(default_factory=list)  # per root: did that backward give it a gradient?
    alive: bool = True
    node: Index | None = None  # id of its grad_fn (or AccumulateGrad) node
    is_parameter: bool = False
    inputs_required_grad: bool = False  # any input of the op that made it required grad
    grad_mode: bool = True  # grad mode when it was made
    user_no_grad: bool = False  # the user's own code had grad mode off when it was made
    inference_made: bool = False
    origin_dropped: bool = False  # the ops that made it were not kept: its cut chain was deeper than the cap (format 7)

    @property
    def vid(self) -> str:
        return f"t{self.id}"


class SavedInfo(TypedDict):
    """One value a grad_fn saved for backward (`_saved_<name>`)."""

    name: str
    shape: NotRequired[list[Index] | None]
    dtype: NotRequired[str | None]
    version: NotRequired[Index]
    tensor: NotRequired[Index]
    value: NotRequired[Scalar | list[Scalar] | None]
    state: NotRequired[Literal["modified", "freed"]]


class NodeInfo(_Record):
    """One autograd graph node (a grad_fn), unfolded."""

    id: Index
    name: str
    tensor: Index | None = None  # the tensor whose grad_fn this is, when known
    variable: Index | None = None  # for AccumulateGrad: the leaf it accumulates into
    file: str | None = None
    line: Index | None = None
    op: str | None = None
    module: str | None = None
    next: list[Index | None] = msgspec.field(default_factory=list)  # next_functions, None for empty slots
    saved: list[SavedInfo] = msgspec.field(default_factory=list)

    @property
    def vid(self) -> str:
        return f"n{self.id}"


class EdgeInfo(_Record):
    """Data flowing from `src` into `dst`; `flows_grad` False marks a cut, `reason` says why."""

    src: Vertex
    dst: Vertex
    flows_grad: bool = True
    reason: str | None = None  # e.g. "detach() · line 7"
    cut: Kind | None = None  # kind of cut: detached, no_grad, frozen, constant, nondiff, inference
    line: Index | None = None  # the line that cut it


class RootInfo(_Record):
    """A tensor the script backpropagated from (or, if it never did, a top-level output)."""

    tensor: Index
    file: str | None = None
    line: Index | None = None
    call: Literal["backward", "autograd.backward", "autograd.grad", "implicit", "selected"] = "backward"
    step: Index | None = None  # 1-based index among all backward calls; None when implicit
    calls: Index = 1  # how many times this call site ran
    raised: str | None = None  # the error message when the backward call raised


class FrameInfo(TypedDict):
    """One frame of the user's code that the exception passed through, and the tensors its locals held."""

    function: str
    file: str | None
    line: Index | None
    locals: dict[str, Index]  # local name -> tensor id


class ExceptionInfo(TypedDict):
    type: str
    message: str
    line: Index | None
    file: str | None
    frames: NotRequired[list[FrameInfo]]  # the user's frames, outermost first (format 6)


class ExitInfo(TypedDict):
    code: Int | None
    exception: ExceptionInfo | None


class _Event(_Record, tag_field="kind", omit_defaults=True):
    """A notable moment kept for the findings, at the user's line that caused it. `kind` (the tag)
    says which record it is; tensor fields are tensor ids."""

    file: str | None = None
    line: Index | None = None

    def tensor_refs(self) -> list[tuple[str, int | None]]:
        """(field, tensor id) for every tensor this event names."""
        refs = [(key, getattr(self, key)) for key in _EVENT_TENSOR_FIELDS if hasattr(self, key)]
        refs += [(key, tid) for key in _EVENT_TENSOR_LIST_FIELDS for tid in getattr(self, key, ())]
        return refs


class InplaceEvent(_Event, tag="inplace"):
    """An in-place op on a tensor, or a change of its requires_grad (`requires_grad_`, `.requires_grad =`)."""

    op: str | None = None
    tensor: Index | None = None


class _GradAccess(_Event):
    op: str | None = None
    tensor: Index | None = None
    backward_calls: Index = 0  # backward calls so far
    retains_grad: bool = False
    grad_none: bool = False


class GradReadEvent(_GradAccess, tag="grad_read"):
    """`.grad` read on a non-leaf tensor."""


class RetainGradEvent(_GradAccess, tag="retain_grad"):
    """`retain_grad()` called on a tensor."""


class ErrorEvent(_Event, tag="error"):
    """A tensor op that raised, with the tensors involved."""

    op: str | None = None
    error: str = ""  # "Type: message"
    requires_grad_kwarg: bool = False
    dtype: str | None = None  # the integer dtype asked to require grad
    tensor: Index | None = None
    nearby: Index | None = None  # a float tensor made from `tensor` that requires grad
    tensors: list[Index] = msgspec.field(default_factory=list)
    base: Index | None = None  # an in-place op through a view: the leaf it views


class LossTargetEvent(_Event, tag="loss_target"):
    """A loss function's call: `tensor` is its target, `input` the prediction."""

    op: str | None = None
    tensor: Index | None = None
    input: Index | None = None


class CutParamsEvent(_Event, tag="cut_params"):
    """A tensor whose graph reaches parameters was detached or read out; `reaches` are those parameters."""

    op: str | None = None
    tensor: Index | None = None
    reaches: list[Index] = msgspec.field(default_factory=list)


class UnusedLossEvent(_Event, tag="unused_loss"):
    """A loss computed and never backpropagated from; `reaches` are the parameters its graph reaches."""

    op: str | None = None
    tensor: Index | None = None
    reaches: list[Index] = msgspec.field(default_factory=list)


class ApiResultEvent(_Event, tag="api_result"):
    """A tensor returned by a library call the findings read (a distribution's `log_prob`)."""

    api: str | None = None
    tensor: Index | None = None


CutWhy = Literal["detach", "no_grad", "inference", "library", "nondiff", "copy", "value", "grad"]


class CutEvent(_Event, tag="cut"):
    """A (line, op) site whose outputs stopped carrying gradient; see analyse/findings/frontier.py."""

    cut: CutWhy = "nondiff"
    op: str | None = None
    tensor: Index | None = None  # the first output it cut
    reaches: list[Index] = msgspec.field(default_factory=list)  # trainable leaves upstream of the cut
    calls: Index = 0  # how many times that line cut
    off_line: Index | None = None  # no_grad: the line that turned grad mode off
    def_line: Index | None = None  # no_grad: the def of a @torch.no_grad() function
    api: str | None = None  # library: the library call (`Normal.sample`)
    twin: str | None = None  # library: its differentiable twin (`rsample`)


class _SavedChange(_Event):
    op: str | None = None  # the op that changed it, at file/line
    tensor: Index | None = None  # the tensor that op changed
    saved: Index | None = None  # the saved tensor
    saved_name: str = ""
    node: str = ""  # the grad_fn class that saved it
    saved_by_op: str | None = None
    saved_by_line: Index | None = None
    pending: bool = False  # found in a graph not yet backpropagated


class SavedModifiedEvent(_SavedChange, tag="saved_modified"):
    """A tensor saved for backward was modified in place."""


class SavedChangedViaDataEvent(_SavedChange, tag="saved_changed_via_data"):
    """A tensor saved for backward was changed through `.data`, which hides it from the version check."""


class EscapeEvent(_Event, tag="escape"):
    """`.item()`, `.tolist()`, `.numpy()` or `float()` of a tensor that carries gradient (or of its
    detached copy): the values leave autograd."""

    op: str | None = None
    tensor: Index | None = None
    backward_calls: Index = 0


class ValueFedEvent(_Event, tag="value_fed"):
    """A number read out of a tensor that requires grad (`float(p)`, `p.item()`, at `read_line`) given
    to a tensor op (at file/line) as an operand: autograd sees a constant there (format 9)."""

    op: str | None = None
    read_op: str | None = None
    read_file: str | None = None
    read_line: Index | None = None
    tensor: Index | None = None  # the tensor the number was read from
    out: Index | None = None  # the op's result


class CustomBackwardEvent(_Event, tag="custom_backward"):
    """A custom `autograd.Function` whose backward returned the wrong number of gradients (file/line: its def)."""

    node: str = ""
    returns: list[Index] = msgspec.field(default_factory=list)  # lines of its `return` statements
    apply_line: Index | None = None  # the line that applied the Function


class ReplacedEvent(_Event, tag="replaced"):
    """A module's submodule or parameter assigned where another one was (`net.fc = nn.Linear(...)`)."""

    what: Literal["module", "parameter"] = "module"
    module: str = ""  # the attribute's qualified name, `net.fc`
    old: list[Index] = msgspec.field(default_factory=list)  # parameters that left the model
    new: list[Index] = msgspec.field(default_factory=list)  # the new submodule's parameters


class ClearedGradsEvent(_Event, tag="cleared_grads"):
    """An optimizer's zero_grad() (at file/line) ran after the backward calls since its previous step
    and before its next one: that step applied none of their gradients."""

    backward_line: Index | None = None  # the latest backward call before the zero_grad()
    step_line: Index | None = None  # the step that followed it


class CheckpointEvent(_Event, tag="checkpoint"):
    """An activation-checkpoint call."""

    inputs_require_grad: bool = False


Event = (InplaceEvent | GradReadEvent | RetainGradEvent | ErrorEvent | LossTargetEvent | CutParamsEvent
         | UnusedLossEvent | ApiResultEvent | CutEvent | SavedModifiedEvent | SavedChangedViaDataEvent | EscapeEvent
         | CustomBackwardEvent | ReplacedEvent | CheckpointEvent | ClearedGradsEvent | ValueFedEvent)
_EVENT_TENSOR_FIELDS = ("tensor", "input", "nearby", "saved", "base", "out")
_EVENT_TENSOR_LIST_FIELDS = ("tensors", "reaches", "old", "new")


class ModuleInfo(TypedDict):
    name: str
    type: str
    called: NotRequired[bool]  # its forward ran
    params: list[Index]  # its direct parameters' tensor ids
    grad_buffers: NotRequired[list[Index]]  # its direct buffers that require grad (format 8)
    grad_attrs: NotRequired[dict[str, Index]]  # leaf tensors that require grad kept as plain attributes (format 9)


class OptimizerInfo(TypedDict):
    name: str
    type: str
    params: list[Index]
    line: NotRequired[Index | None]  # where the script bound it, i.e. built it (format 6)


class WarningInfo(TypedDict):
    category: str
    message: str
    file: str | None
    line: Index | None


class Diagnostic(_Record):
    """One kind of internal failure while recording: events it hit were not recorded."""

    where: str  # the gradscope code that failed, e.g. "record/mode.py:142 (__torch_function__)"
    what: str  # the first exception, "TypeError: ..."
    count: Index = 1  # how many times it happened
    file: str | None = None  # the user's line being run when it first happened
    line: Index | None = None


DroppedWhat = Literal["events", "cut_sites", "cut_origins", "reaches", "frame_locals", "warnings", "mutations",
                      "cut_ancestry", "grad_mode_switches", "nan_hooks"]


class SourceLine(_Record):
    """The text of one line of the user's code that the capture cites (a tensor's, a node's)."""

    file: str
    line: Index
    text: str


class Dropped(_Record):
    """A cap on recording was reached: what it left out, how many, and where (format 7).

    events: moments of one kind at one line beyond the first `cap` (the latest is kept too); cut_sites: cut ops
    at lines beyond the first `cap` cut sites; cut_origins: tensors shown whose origin (the ops that made them)
    was not kept, cut chains being deeper than `cap`; reaches: walks for the parameters behind a cut (kind
    "cut"), a detach ("cut_params") or an unused loss ("loss"), for the node a custom Function's backward error
    names ("custom_backward"), or through never-backpropagated graphs for saved tensors changed in place
    ("pending") stopped after `cap` graph nodes; frame_locals: tensor locals of a raising frame beyond `cap`;
    warnings: distinct warnings beyond `cap`, shown but not kept; mutations: storages changed in place forgotten
    when the in-place log passed `cap` (an older in-place change of a saved tensor goes unexplained);
    cut_ancestry: tensors whose making was not followed once a snapshot had followed `cap`; grad_mode_switches:
    nested grad-mode switches beyond `cap` not remembered (a guard against unbalanced enter/exit); nan_hooks:
    backward nodes past `cap` not watched by --nan.
    """

    what: DroppedWhat
    count: Index = 0  # how many were left out
    cap: Index = 0
    kind: str | None = None  # events: the event kind; reaches: what was walked
    file: str | None = None  # where (for cut_sites, cut_origins and warnings: the first one left out)
    line: Index | None = None


class NormSeries(_Record):
    """Gradient norms of one parameter (or one module, or the whole model) at one backward call site.

    first/last/min/max/calls/zeros/nonfinite count every call; `median` comes from the kept series
    (`series_calls`, `series`: at most 512 points, evenly thinned). Non-finite norms are `null` in
    the series and left out of min/max/median.
    """

    of: Literal["parameter", "module", "model"]
    name: str
    tensor: Index | None = None  # for a parameter: its tensor id
    first: float | None = None
    last: float | None = None
    min: float | None = None
    max: float | None = None
    median: float | None = None
    calls: Index = 0  # backward calls at this site that gave it a gradient
    zeros: Index = 0  # calls whose gradient was exactly zero everywhere
    nonfinite: Index = 0  # calls whose gradient held a NaN or an infinity
    first_nonfinite: Index | None = None  # index (among all backward calls) of the first such call
    series_calls: list[Index] = msgspec.field(default_factory=list)  # index among all backward calls
    series: list[float | None] = msgspec.field(default_factory=list)
    recorded: float | str | None = None  # the norm after the site's recorded call ("nan"/"inf" as text); format 6
    rows: Index | None = None  # a Linear's weight: its rows (output units), watched for dead units; format 6
    dead_rows: Index = 0  # rows whose gradient was exactly zero after every call that gave it one
    dead_rows_at: list[Index] = msgspec.field(default_factory=list)  # the first of them (at most 32)


class NormSite(_Record):
    """One line that called backward, with the norms of `.grad` right after each of its calls."""

    file: str | None = None
    line: Index | None = None
    call: str = "backward"
    calls: Index = 0  # backward calls at this site whose norms were taken
    accumulated: Index = 0  # of those, calls with no optimizer step since the previous backward call
    series: list[NormSeries] = msgspec.field(default_factory=list)
    recorded_call: Index | None = None  # the call whose graph was recorded (index among all backward calls); format 6


class ParamUpdate(_Record):
    """What the optimizer steps did to one parameter (for the optimizer audit)."""

    tensor: Index
    steps_with_grad: Index = 0  # optimizer steps taken while it had a non-zero gradient
    steps_changed: Index = 0  # of those, steps after which its values had changed
    lr: float | None = None  # its group's learning rate at the last step


class NanOrigin(_Record):
    """Where the first NaN/Inf appeared (`--nan`): a forward op, or a backward node."""

    phase: Literal["forward", "backward"]
    value: str  # nan | inf
    op: str | None = None  # forward: the op; backward: the grad_fn class
    file: str | None = None
    line: Index | None = None
    tensor: Index | None = None  # forward: the output tensor
    name: str | None = None  # the variable it was bound to, when known at that moment
    module: str | None = None
    call: Index = 0  # backward calls before it (0: during the first forward pass)
    inputs: list[str] = msgspec.field(default_factory=list)  # the op's inputs, described ("x: [3] float32, min -2")
    inputs_finite: bool = True  # False: an input already held NaN (it came from outside the ops seen)
    inputs_inf: bool = False  # forward: an input held ±Inf (a -inf mask, an overflow) when the NaN was made (format 8)


class GradHealth(_Record):
    """Gradient health facts: norms per backward call, optimizer updates, NaN origins."""

    norms: bool = False  # norms were taken (off with --no-grad-norms)
    optimizer_steps: Index = 0
    sites: list[NormSite] = msgspec.field(default_factory=list)
    updates: list[ParamUpdate] = msgspec.field(default_factory=list)
    clip_max_norm: float | None = None  # the max_norm the script passed to clip_grad_norm_
    clip_line: Index | None = None  # the line that called it (format 9)
    grad_scaler: bool = False  # the script unscaled gradients with a GradScaler
    nan_checked: bool = False  # run with --nan
    nan: list[NanOrigin] = msgspec.field(default_factory=list)


class Capture(msgspec.Struct, forbid_unknown_fields=True, dict=True):
    """Everything a traced run left behind. `dict=True` only to cache lookups beside the fields."""

    format_version: Index = FORMAT_VERSION
    script: str = ""
    argv: list[str] = msgspec.field(default_factory=list)
    torch_version: str = ""
    exit: ExitInfo = msgspec.field(default_factory=lambda: {"code": 0, "exception": None})
    tensors: list[TensorInfo] = msgspec.field(default_factory=list)
    nodes: list[NodeInfo] = msgspec.field(default_factory=list)
    edges: list[EdgeInfo] = msgspec.field(default_factory=list)
    roots: list[RootInfo] = msgspec.field(default_factory=list)
    variables: dict[str, Index] = msgspec.field(default_factory=dict)
    backward_calls: Index = 0
    stopped_after: Index | None = None  # --stop-after N ended the script after its N-th backward call
    events: list[Event] = msgspec.field(default_factory=list)  # notable moments for findings
    modules: list[ModuleInfo] = msgspec.field(default_factory=list)
    optimizers: list[OptimizerInfo] = msgspec.field(default_factory=list)
    warnings: list[WarningInfo] = msgspec.field(default_factory=list)  # shown to the user during the run
    diagnostics: list[Diagnostic] = msgspec.field(default_factory=list)  # gradscope's own failures
    dropped: list[Dropped] = msgspec.field(default_factory=list)  # what caps on recording left out
    sources: list[SourceLine] = msgspec.field(default_factory=list)  # the text of the lines tensors were made at
    grad_health: GradHealth | None = None

    # -- lookups -------------------------------------------------------------------------------
    def tensor(self, tid: int) -> TensorInfo:
        return self._tensor_index()[tid]

    def _tensor_index(self) -> dict[int, TensorInfo]:
        index = self.__dict__.get("_tindex")
        if index is None or len(index) != len(self.tensors):
            index = {t.id: t for t in self.tensors}
            self.__dict__["_tindex"] = index
        return index

    def source(self, file: str | None, line: int | None) -> str | None:
        """The text of a cited line of the user's code, when the capture has it."""
        index = self.__dict__.get("_sources")
        if index is None:
            index = self.__dict__["_sources"] = {(s.file, s.line): s.text for s in self.sources}
        return index.get((file, line))

    def by_name(self, name: str) -> list[TensorInfo]:
        """Tensors bound to `name` (or with that parameter name), in the order they were made."""
        return [t for t in self.tensors if name in (t.name, t.param_name)]

    # -- JSON ----------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)

    def dumps(self) -> str:
        try:
            return _ENCODER.encode(self).decode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (an undecodable file name, an odd message)
            return _ENCODER.encode(_scrub(self.to_json())).decode("utf-8")

    @classmethod
    def from_json(cls, data: Any) -> "Capture":
        """Build a Capture from parsed JSON; anything malformed raises CaptureError."""
        _check_version(data.get("format_version") if isinstance(data, dict) else _NOT_AN_OBJECT)
        try:
            capture = msgspec.convert(data, cls)
        except msgspec.ValidationError as exc:
            raise CaptureError(f"malformed capture: {exc}") from None
        _check_references(capture)
        return capture

    @classmethod
    def loads(cls, text: str | bytes) -> "Capture":
        """Decode and validate against the schema; anything malformed raises CaptureError (one line)."""
        _check_version(_header(text).format_version)
        with collector_paused():
            try:
                capture = _DECODER.decode(text)
            except msgspec.DecodeError as exc:  # ValidationError included
                raise CaptureError(f"malformed capture: {exc}") from None
            except RecursionError:
                raise CaptureError("malformed capture: nested too deeply") from None
            _check_references(capture)
        return capture


def _scrub(value: Any) -> Any:
    """Strings made encodable: undecodable bytes and lone surrogates shown as escapes (`\\xe9`)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            raw = value.encode("utf-8", "surrogateescape" if _escaped_bytes_only(value) else "backslashreplace")
            return raw.decode("utf-8", "backslashreplace")
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, dict):
        return {_scrub(k): _scrub(v) for k, v in value.items()}
    return value


def _escaped_bytes_only(text: str) -> bool:
    return all(not "\ud800" <= ch <= "\udfff" or "\udc80" <= ch <= "\udcff" for ch in text)


_ENCODER = msgspec.json.Encoder()  # non-finite floats left anywhere become null (strict JSON)
_DECODER = msgspec.json.Decoder(Capture)
_NOT_AN_OBJECT = object()


class _Header(msgspec.Struct):
    format_version: Any = None


@contextlib.contextmanager
def collector_paused():
    """Decoding (and analysing) makes millions of small objects and no cycles: without this, Python's
    cyclic GC rescans them over and over (3x the decode time on a 100k-node capture). Drop the captures
    before leaving, or the first collection after it scans them once more."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _header(text: str | bytes) -> "_Header":
    """Read only `format_version` (msgspec skips the rest): is this JSON, a capture, one we can read?"""
    try:
        return msgspec.json.decode(text, type=_Header)
    except msgspec.ValidationError:
        raise CaptureError("not a gradscope capture (expected a JSON object)") from None
    except msgspec.DecodeError as exc:
        raise CaptureError(f"not valid JSON ({exc}{_non_json_number(text, exc)})") from None
    except RecursionError:
        raise CaptureError("not a gradscope capture (nested too deeply)") from None


def _non_json_number(text: str | bytes, exc: Exception) -> str:
    """Captures before format 2 wrote NaN and Infinity, which JSON does not allow: say so."""
    match = re.search(r"byte (\d+)", str(exc))
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    if match and data[int(match.group(1)):].lstrip(b"-").startswith((b"NaN", b"Infinity")):
        return ": NaN or Infinity is not JSON; this capture was written before format 2, trace again"
    return ""


def _check_version(version: Any) -> None:
    if version is _NOT_AN_OBJECT:
        raise CaptureError("not a gradscope capture (expected a JSON object)")
    if version is None:
        raise CaptureError("not a gradscope capture (no format_version)")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CaptureError(f"unknown format_version {str(version)[:20]!r}")
    if version > FORMAT_VERSION:
        raise CaptureError(
            f"capture format_version {version} is newer than this gradscope reads ({FORMAT_VERSION});"
            " upgrade gradscope"
        )


def _check_references(capture: Capture) -> None:
    """What a schema cannot say: ids are unique and every reference names something that exists.
    Set operations first (fast); the slow walk only runs to name the first bad reference."""
    tensor_ids = {t.id for t in capture.tensors}
    node_ids = {n.id for n in capture.nodes}
    if len(tensor_ids) != len(capture.tensors) or len(node_ids) != len(capture.nodes):
        raise CaptureError("malformed capture: duplicate tensor or node ids")
    tensors, nodes, events = capture.tensors, capture.nodes, capture.events
    tensor_refs = {t.detached_from for t in tensors}
    tensor_refs.update([n.tensor for n in nodes], [n.variable for n in nodes], [r.tensor for r in capture.roots],
                       capture.variables.values(), [s.get("tensor") for n in nodes for s in n.saved],
                       [tid for e in events for _, tid in e.tensor_refs()],
                       [i for m in capture.modules for i in m["params"]],
                       [i for o in capture.optimizers for i in o["params"]],
                       [i for frame in _frames(capture) for i in frame["locals"].values()])
    node_refs = {t.node for t in tensors}
    node_refs.update(i for n in nodes for i in n.next)
    tensor_refs.discard(None)
    node_refs.discard(None)
    ends = {e.src for e in capture.edges}
    ends.update(e.dst for e in capture.edges)
    good = (tensor_refs <= tensor_ids and node_refs <= node_ids
            and all(int(v[1:]) in (tensor_ids if v[0] == "t" else node_ids) for v in ends)
            and max((len(t.grads) for t in tensors), default=0) <= len(capture.roots))
    if not good:
        _name_bad_reference(capture, tensor_ids, node_ids)


def _frames(capture: Capture) -> list[FrameInfo]:
    exception = capture.exit.get("exception")
    return exception.get("frames", []) if exception else []


def _name_bad_reference(capture: Capture, tensor_ids: set[int], node_ids: set[int]) -> None:
    """Raise CaptureError naming the first reference to something that does not exist."""
    vertices = {f"t{i}" for i in tensor_ids} | {f"n{i}" for i in node_ids}
    for edge in capture.edges:
        if edge.src not in vertices or edge.dst not in vertices:
            raise CaptureError(f"malformed capture: edge {edge.src}->{edge.dst} names an unknown vertex")

    def tensor_ref(tid: int | None, where: str) -> None:
        if tid is not None and tid not in tensor_ids:
            raise CaptureError(f"malformed capture: {where} names unknown tensor {tid}")

    def node_ref(nid: int | None, where: str) -> None:
        if nid is not None and nid not in node_ids:
            raise CaptureError(f"malformed capture: {where} names unknown node {nid}")

    roots = len(capture.roots)
    for t in capture.tensors:
        tensor_ref(t.detached_from, f"tensor {t.id}")
        node_ref(t.node, f"tensor {t.id}")
        if len(t.grads) > roots:
            raise CaptureError(f"malformed capture: tensor {t.id} has {len(t.grads)} grads for {roots} roots")
    for root in capture.roots:
        tensor_ref(root.tensor, "a root")
    for name, tid in capture.variables.items():
        tensor_ref(tid, f"variable {name!r}")
    for node in capture.nodes:
        for nxt in node.next:
            node_ref(nxt, f"node {node.id}")
        for ref in (node.tensor, node.variable):
            tensor_ref(ref, f"node {node.id}")
        for saved in node.saved:
            tensor_ref(saved.get("tensor"), f"node {node.id}")
    for i, event in enumerate(capture.events):
        for key, tid in event.tensor_refs():
            tensor_ref(tid, f"events[{i}].{key}")
    for frame in _frames(capture):
        for name, tid in frame["locals"].items():
            tensor_ref(tid, f"the local {name!r} of {frame['function']!r}")
    for section in ("modules", "optimizers"):
        for entry in getattr(capture, section):
            for tid in entry["params"]:
                tensor_ref(tid, f"{section[:-1]} {entry['name']!r}")
