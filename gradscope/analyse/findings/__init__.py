"""Findings: plain-words claims about what autograd did in the script, with the lines to blame.

Pure passes over a `Capture` (no torch): one module per family, each a function
`(Context) -> list[Finding]`, run in the order of `PASSES`. Codes are stable (documented in the
README): GS1xx autograd errors (GS101 backward without a graph, GS102-GS109 the rest of the
catalogue in `autograd_errors`), GS2xx trainable tensors without a gradient, GS3xx `.grad`
of non-leaves, GS4xx integer tensors, GS5xx in-place changes to saved tensors, GS6xx inference
tensors, GS7xx loss targets, GS8xx the optimizer audit, GS9xx gradient health (norms, NaN/Inf).
Severity: `error` (raises, or silently wrong gradients), `warning` (gradient almost certainly not
where it was meant to go), `info` (often intended; worth knowing). No error or warning may fire on
a correct script: when the facts are not conclusive, say nothing.
"""

from __future__ import annotations

from gradscope.analyse.findings.autograd_errors import (
    custom_function_backward,
    ddp_unused,
    inplace_on_leaf,
    nonscalar_backward,
    numpy_on_grad,
    other_backward_error,
    second_backward,
)
from gradscope.analyse.findings.context import SEVERITY_ORDER, Context, Finding
from gradscope.analyse.findings.explain_tensor import explain_tensor
from gradscope.analyse.findings.health import gradient_health
from gradscope.analyse.findings.frontier import cut_terms
from gradscope.analyse.findings.inference import inference_in_autograd
from gradscope.analyse.findings.inplace import inplace_saved
from gradscope.analyse.findings.integer_grad import integer_requires_grad
from gradscope.analyse.findings.loss_target import loss_target_grad
from gradscope.analyse.findings.no_gradient import intended_cuts, trainable_without_grad
from gradscope.analyse.findings.no_graph import backward_without_graph
from gradscope.analyse.findings.nonleaf_grad import nonleaf_grad
from gradscope.analyse.findings.optimizer import optimizer_audit
from gradscope.analyse.findings.value_fed import values_fed_back
from gradscope.analyse.findings.weights import gradient_carrying_weights
from gradscope.analyse.findings.zero_derivative import zero_derivative
from gradscope.capture import Capture
from gradscope.errors import log_internal_failure

__all__ = ["PASSES", "Finding", "explain_tensor", "find_all"]

PASSES = (
    backward_without_graph,
    second_backward,
    inplace_on_leaf,
    nonscalar_backward,
    custom_function_backward,
    numpy_on_grad,
    ddp_unused,
    other_backward_error,
    trainable_without_grad,
    intended_cuts,
    cut_terms,
    values_fed_back,
    zero_derivative,
    nonleaf_grad,
    integer_requires_grad,
    inplace_saved,
    inference_in_autograd,
    loss_target_grad,
    gradient_carrying_weights,
    optimizer_audit,
    gradient_health,
)


def find_all(capture: Capture, ctx: Context | None = None) -> list[Finding]:
    """Every family's findings; `ctx`: a Context of `capture` already built (shared with other analyses)."""
    ctx = ctx or Context(capture)
    found: list[Finding] = []
    for family in PASSES:
        try:
            found.extend(family(ctx))
        except Exception as exc:  # one broken pass must not hide what the others found
            found.append(_failed_pass(family.__name__, exc, capture.script))
    found.sort(key=lambda f: (SEVERITY_ORDER.get(f.severity, 3), f.lines[0] if f.lines else 0, f.code))
    return found


def _failed_pass(name: str, exc: Exception, script: str) -> Finding:
    """gradscope's own failure, said as such: the findings of this pass are missing, not absent."""
    what = f"{type(exc).__name__}: {exc}"[:200]
    log_internal_failure({"script": script, "where": f"analyse/findings ({name})", "what": what, "count": 1})
    return Finding("GS000", "warning", f"gradscope's `{name}` analysis failed; its findings are missing",
                   message=f"internal error in gradscope ({what}); the other findings are unaffected. "
                           "Please report it with the capture (--json).")
