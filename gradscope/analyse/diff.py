"""What changed in gradient flow between two captures (two commits, two configs).

Compared: each parameter's statuses (requires grad, got a gradient, held by an optimizer), the cuts
in the recorded graphs (matched by tensor name and cutting op, never by line: lines move between
commits), the backward roots, and the findings (matched by code, severity and tensors). Pure data
in, pure data out; no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from gradscope.analyse.graph import tensor_label
from gradscope.analyse.params import ParamStatus, param_statuses
from gradscope.capture import Capture, collector_paused

CUT_KINDS = ("detached", "no_grad", "inference")


@dataclass
class Change:
    section: str  # parameters | cuts | roots | findings
    sign: str  # "+" appeared in B, "-" gone from A, "~" changed
    subject: str
    what: str
    lines: dict[str, list[int]] = field(default_factory=dict)  # {"a": [...], "b": [...]}


@dataclass
class DiffResult:
    a: str
    b: str
    changes: list[Change]

    def to_json(self) -> dict:
        return {"a": self.a, "b": self.b, "changed": bool(self.changes), "changes": [asdict(c) for c in self.changes]}


def diff(a: Capture, b: Capture, *, findings_a=None, findings_b=None) -> DiffResult:
    """`findings_*`: the captures' findings when the caller has them already."""
    from gradscope.analyse.findings import find_all
    from gradscope.analyse.findings.context import Context

    with collector_paused():
        ca, cb = Context(a), Context(b)  # one each, shared by the parameters' reasons and the findings
        changes = _params(param_statuses(a, ctx=ca), param_statuses(b, ctx=cb))
        changes += _keyed("cuts", _cuts(a), _cuts(b))
        changes += _keyed("roots", _roots(a), _roots(b))
        fa = find_all(a, ca) if findings_a is None else findings_a
        fb = find_all(b, cb) if findings_b is None else findings_b
        changes += _keyed("findings", _findings(fa), _findings(fb))
    return DiffResult(a.script, b.script, changes)



# -- parameters -----------------------------------------------------------------------------------


def _params(pa: dict[str, ParamStatus], pb: dict[str, ParamStatus]) -> list[Change]:
    """One change per (parameter, what changed); parameters that changed alike are grouped."""
    grouped: dict[tuple, list[str]] = {}
    lines: dict[tuple, dict] = {}
    for name in dict.fromkeys([*pa, *pb]):
        before, after = pa.get(name), pb.get(name)
        for sign, what, where in _param_changes(before, after):
            key = (sign, what)
            grouped.setdefault(key, []).append(name)
            lines.setdefault(key, where)
    return [Change("parameters", sign, ", ".join(names), what, lines[(sign, what)])
            for (sign, what), names in grouped.items()]


def _param_changes(before: ParamStatus | None, after: ParamStatus | None):
    if before is None:
        yield "+", f"new parameter ({_state(after)})", {}
        return
    if after is None:
        yield "-", f"parameter gone (was: {_state(before)})", {}
        return
    if before.requires_grad != after.requires_grad:
        if after.requires_grad:
            yield "~", "started requiring grad", {}
        else:
            yield "~", f"stopped requiring grad (frozen at line {after.frozen_line})", _at(b=after.frozen_line)
    if before.got_grad != after.got_grad:
        if after.got_grad:
            yield "~", "started getting a gradient", {}
        elif after.requires_grad:  # a parameter frozen in B gets no gradient because of that
            yield "~", f"stopped getting a gradient: {after.no_grad_reason}", _at(b=after.no_grad_line)
    if bool(before.optimizers) != bool(after.optimizers):
        if after.optimizers:
            yield "~", f"now in optimizer {_opts(after)}", {}
        else:
            yield "~", f"no longer in any optimizer (was in {_opts(before)})", {}


def _state(p: ParamStatus) -> str:
    if not p.requires_grad:
        return "frozen"
    held = f", in optimizer {_opts(p)}" if p.optimizers else ", in no optimizer"
    return ("gets a gradient" if p.got_grad else "gets no gradient") + held


def _opts(p: ParamStatus) -> str:
    return ", ".join(f"`{o}`" for o in p.optimizers)


def _at(**sides) -> dict[str, list[int]]:
    return {side: [line] for side, line in sides.items() if line is not None}


# -- cuts, roots, findings: keyed sets ----------------------------------------------------------


def _cuts(capture: Capture) -> dict[tuple, tuple[str, list[int]]]:
    """Tensors of the recorded graphs that a detach / no_grad / inference_mode cut off:
    (name, op) -> (text, lines)."""
    tensors = {t.vid: t for t in capture.tensors}
    out: dict[tuple, tuple[str, list[int]]] = {}
    for edge in capture.edges:
        t = tensors.get(edge.src)
        if edge.flows_grad or edge.cut not in CUT_KINDS or t is None:
            continue
        t = tensors.get(edge.dst) if t.kind not in CUT_KINDS else t
        if t is None or t.kind not in CUT_KINDS:
            continue
        name = tensor_label(t)
        op = _cut_op(t)
        text, lines = out.setdefault((name, op), (f"{name}: {op}", []))
        if t.cut_line is not None and t.cut_line not in lines:
            lines.append(t.cut_line)
    return out


def _cut_op(t) -> str:
    if t.cut_op == "Tensor.data":
        return ".data"
    if t.cut_op in ("detach", "detach_"):
        return f"{t.cut_op}()"
    return t.cut_op or t.kind


def _roots(capture: Capture) -> dict[tuple, tuple[str, list[int]]]:
    out: dict[tuple, tuple[str, list[int]]] = {}
    tensors = {t.id: t for t in capture.tensors}
    for root in capture.roots:
        t = tensors.get(root.tensor)
        name = tensor_label(t) if t is not None else f"tensor#{root.tensor}"
        call = {"backward": ".backward()", "autograd.backward": "torch.autograd.backward",
                "autograd.grad": "torch.autograd.grad"}.get(root.call, root.call)
        text, lines = out.setdefault((name, root.call), (f"{name} ← {call}", []))
        if root.line is not None and root.line not in lines:
            lines.append(root.line)
    return out


def _findings(found) -> dict[tuple, tuple[str, list[int]]]:
    out: dict[tuple, tuple[str, list[int]]] = {}
    for f in found:
        out.setdefault((f.code, f.severity, tuple(sorted(f.tensors))), (f"{f.code} {f.severity}: {f.title}", f.lines))
    return out


def _keyed(section: str, in_a: dict, in_b: dict) -> list[Change]:
    changes = [Change(section, "-", text, "removed", {"a": lines}) for key, (text, lines) in in_a.items()
               if key not in in_b]
    changes += [Change(section, "+", text, "added", {"b": lines}) for key, (text, lines) in in_b.items()
                if key not in in_a]
    return changes
