"""What every finding family shares: the `Finding` record, the capture's lookups (`Context`) and
the helpers that put names into sentences."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TypeVar

from gradscope.analyse.graph import GraphView, tensor_label
from gradscope.analyse.norms import tensors_given_gradient
from gradscope.analyse.statuses import freeze_lines
from gradscope.capture import Capture, TensorInfo

E = TypeVar("E")

SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class Finding:
    code: str
    severity: str
    title: str
    lines: list[int] = field(default_factory=list)  # culprit first
    tensors: list[str] = field(default_factory=list)
    message: str = ""
    fix: str = ""

    def to_json(self) -> dict:
        return asdict(self)


class Context:
    """The capture plus the lookups every family needs, computed once."""

    def __init__(self, capture: Capture):
        self.capture = capture
        self.view = GraphView(capture)
        self.tensors = self.view.tensors
        self.events = capture.events
        self._freeze_lines: dict[int, int] | None = None
        self._once: dict = {}

    def once(self, make):
        """`make(self)`, computed once per Context (analyses that several passes share)."""
        if make not in self._once:
            self._once[make] = make(self)
        return self._once[make]

    def name(self, tid: int | None) -> str:
        t = self.tensors.get(tid) if tid is not None else None
        return self.label(t) if t is not None else "a tensor"

    def label(self, t: TensorInfo) -> str:
        return tensor_label(t)

    def code(self, tid: int | None) -> str:
        """For prose: "`gate` (in Block.forward)", "`model.w`", or "the output of `op`"."""
        t = self.tensors.get(tid) if tid is not None else None
        if t is not None and t.name and not t.param_name and t.scope:
            return f"`{t.name}` (in {t.scope})"
        return quoted(self.short(tid))

    def short(self, tid: int | None) -> str:
        """A name to put in code: the variable, else "the output of `op`"."""
        t = self.tensors.get(tid) if tid is not None else None
        if t is None:
            return "a tensor"
        if t.param_name or t.name:
            return t.param_name or t.name
        return f"the output of `{t.op}`" if t.op else "a tensor"

    def of_kind(self, kind: type[E]) -> list[E]:
        """The events of one record type, in the order they happened."""
        return [e for e in self.events if type(e) is kind]

    def got_grad(self, t: TensorInfo) -> bool:
        """A recorded backward gave it a gradient, it had one at exit, or its norm was non-zero after
        some backward call (norms are taken at every call: a round-robin head gets gradient at every
        third step, maybe at none of the recorded ones)."""
        return any(g is True for g in t.grads) or t.grad_is_none is False or t.id in self.once(_measured_grads)

    def watched(self, t: TensorInfo) -> bool:
        """Some recorded backward could have given it a gradient (it was a live leaf requiring grad)."""
        return any(g is not None for g in t.grads) or t.grad_is_none is True

    def freeze_line(self, t: TensorInfo) -> int | None:
        """The line that set requires_grad to False on `t` (else where it was made)."""
        if self._freeze_lines is None:
            self._freeze_lines = freeze_lines(self.capture)
        return self._freeze_lines.get(t.id, t.line)

    def optimizer_params(self) -> set[int]:
        return {p for opt in self.capture.optimizers for p in opt.get("params", [])}

    def module_of(self, tid: int) -> dict | None:
        for module in self.capture.modules:
            if tid in module.get("params", []):
                return module
        return None

    def backward_lines(self) -> list[int]:
        return unique(r.line for r in self.capture.roots if r.call not in ("implicit", "selected"))


def _measured_grads(ctx: Context) -> set[int]:
    return tensors_given_gradient(ctx.capture)


def unique(values) -> list:
    out = []
    for v in values:
        if v is not None and v not in out:
            out.append(v)
    return out


def quoted(name: str) -> str:
    return name if name.startswith("the output of") else f"`{name}`"


def plural(names: list, one: str, many: str) -> str:
    return one if len(names) == 1 else many


def listed(names: list[str], limit: int = 4) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")

def first_sentence(message: str) -> str:
    """PyTorch's message without its generic hint (anomaly detection), which the finding replaces."""
    message = message.split(" Hint:", 1)[0].strip()
    head, dot, _ = message.partition(". ")
    return head + dot.strip()
