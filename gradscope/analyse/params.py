"""What each parameter did in a run: does it require grad, did a backward give it a gradient, which
optimizers hold it, and (when it got none) why not, with the line to blame.

One record per parameter name, pure data, so `check` can compare the ranks of a distributed run
and `diff` can compare two captures. The reasons come from the findings' own reach analysis.
No torch here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from gradscope.capture import Capture, TensorInfo


@dataclass(slots=True)
class ParamStatus:
    name: str
    requires_grad: bool
    got_grad: bool  # a recorded backward gave it a gradient (or .grad was set at exit)
    optimizers: list[str] = field(default_factory=list)  # names of the optimizers holding it
    grad_lines: list[int] = field(default_factory=list)  # lines of the backward calls that reached it
    frozen_line: int | None = None  # the line that set requires_grad=False (else where it was made)
    no_grad_reason: str | None = None  # why no gradient came (when none did)
    no_grad_line: int | None = None

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> ParamStatus:
        return cls(**data)


def param_statuses(capture: Capture, *, reasons: bool = True, ctx=None) -> dict[str, ParamStatus]:
    """Every named parameter of the capture (buffers are not parameters), by name; `ctx`: a findings
    Context of `capture` already built (diff and check share one with `find_all`)."""
    from gradscope.analyse.findings.context import Context
    from gradscope.analyse.findings.no_gradient import reach_of  # the reasons GS2xx give, per parameter

    ctx = ctx or Context(capture)
    holders: dict[int, list[str]] = {}
    for opt in capture.optimizers:
        for pid in opt.get("params", []):
            holders.setdefault(pid, []).append(str(opt.get("name")))
    reach = None
    out: dict[str, ParamStatus] = {}
    for t in capture.tensors:
        if not (t.is_parameter and t.param_name):
            continue
        got = ctx.got_grad(t)
        status = ParamStatus(
            name=t.param_name, requires_grad=t.requires_grad, got_grad=got, optimizers=holders.get(t.id, []),
            grad_lines=_unique(r.line for r, g in zip(capture.roots, t.grads) if g is True),
            frozen_line=ctx.freeze_line(t) if not t.requires_grad else None)
        if reasons and not got and t.requires_grad:
            if reach is None:
                reach = reach_of(ctx)
            status.no_grad_reason, status.no_grad_line = _why_no_gradient(capture, reach, t)
        out[t.param_name] = status  # a name bound twice: the later parameter is the one the model holds
    return out


def _why_no_gradient(capture: Capture, reach, t: TensorInfo) -> tuple[str, int | None]:
    if capture.backward_calls == 0:
        return "the script never called backward", None
    failed = [r for r in capture.roots if r.raised]
    if failed:
        return f"backward at line {failed[0].line} raised ({failed[0].raised.splitlines()[0]})", failed[0].line
    code, key, line, why, _fix = reach.explain(t)
    if isinstance(line, list):  # the cut frontier cites its lines, first the one that cut
        line = line[0] if line else None
    if code == "GS203" and key[0] == "cut":
        why = why.split(": ", 1)[-1]  # "detached (detach() · line 37)"
    return _singular(why), line


def _singular(text: str) -> str:
    """The findings speak of groups of tensors; a check line speaks of one parameter."""
    for many, one in ((" to them ", " to it "), ("they only feed", "it only feeds"), ("their results", "its results"),
                      ("reaches them", "reaches it")):
        text = text.replace(many, one)
    return text


def _unique(values) -> list:
    out = []
    for v in values:
        if v is not None and v not in out:
            out.append(v)
    return out
