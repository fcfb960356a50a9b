"""The label contract: every tensor gets exactly one kind, the first rule that applies.

Pure function of the facts stored in the capture, so the same rules serve the recorder (which
fills the facts from torch) and anyone re-reading a capture.
"""

from __future__ import annotations

from gradscope.capture import TensorInfo

DETACH_OPS = ("detach", "detach_", "Tensor.data")


def classify(t: TensorInfo) -> str:
    if t.is_parameter:
        return "parameter" if t.requires_grad else "frozen"
    if t.grad_fn is not None:
        return "nonleaf"
    if t.is_leaf and t.requires_grad:
        return "leaf"
    if t.inference_made:
        return "inference"
    if t.cut_op in DETACH_OPS:
        return "detached"
    if t.user_no_grad:
        return "no_grad"
    if t.grad_mode and t.inputs_required_grad:
        return "nondiff"
    return "constant"


def cut_reason(t: TensorInfo) -> str:
    """Why gradient does not flow through `t`, in the words the tree and the picture use."""
    where = f" · line {t.cut_line}" if t.cut_line is not None else ""
    if t.kind == "frozen":
        return "frozen (requires_grad=False)"
    if t.kind == "detached":
        verb = ".data" if t.cut_op == "Tensor.data" else f"{t.cut_op}()"
        return f"{verb}{where}"
    if t.kind == "no_grad":
        return f"no_grad{where}"
    if t.kind == "inference":
        return f"inference_mode{where}"
    if t.kind == "nondiff":
        return f"not differentiable ({t.op})" if t.op else "not differentiable"
    return "requires_grad=False"
