"""GS702/GS703: targets and weights that carry gradient they should not, decided from the graph.

GS702: a hand-written soft-target loss (`-(p * log_q).sum()`, KL by hand) whose target `p` is a
probability made by another forward pass through the same trainable tensors as `log_q`, without
`detach()`: backward also moves the "teacher" pass towards the student. The same pass on both sides
(an entropy `-(p * log_p)`) is fine: then both sides share the logits.
GS703: a `log_prob(...)` (a distribution's, tagged by the recorder) multiplied by a weight whose
graph reaches trainable tensors: the policy-gradient term also trains whatever made the weight
(REINFORCE with a baseline or a critic whose advantage was not detached).
Both are warnings: the patterns are clear, and the fix (detach the target / the weight) is what the
algorithms these losses come from prescribe.
"""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, listed, unique
from gradscope.analyse.findings.frontier import frontier_of
from gradscope.capture import ApiResultEvent

_PASS_THROUGH = ("View", "Unsqueeze", "Squeeze", "Expand", "Select", "Slice", "Permute", "Transpose",
                 "Clone", "Reshape", "Alias", "T")  # nodes that only move values around
_LOG_PROBS = ("LogSoftmaxBackward", "LogBackward", "LogSigmoidBackward")
_PROBS = ("SoftmaxBackward", "SigmoidBackward", "ExpBackward")
MAX_SIDE = 20000  # vertices compared per side of a product


def gradient_carrying_weights(ctx: Context) -> list[Finding]:
    capture = ctx.capture
    if not capture.backward_calls or any(r.raised for r in capture.roots):
        return []
    fr = frontier_of(ctx)
    log_probs = {e.tensor for e in ctx.of_kind(ApiResultEvent) if (e.api or "").endswith("log_prob")}
    out: dict[tuple, Finding] = {}
    for vid in _products(ctx):
        a, b = (e.src for e in ctx.view.inputs.get(vid, []) if e.flows_grad)
        for x, w in ((a, b), (b, a)):
            finding = (_reinforce(ctx, fr, vid, x, w, log_probs) if log_probs else None) or _soft_target(ctx, fr, vid, x, w)
            if finding is not None:
                out.setdefault((finding.code, *finding.lines[:2]), finding)
                break
    return list(out.values())


def _products(ctx: Context) -> list[str]:
    """Product vertices of the recorded graphs with two inputs that both carry gradient."""
    found = []
    for vid, edges in ctx.view.inputs.items():
        flowing = [e for e in edges if e.flows_grad]
        name = ctx.view.grad_fn(vid) or ""
        if name.startswith("MulBackward") and len(flowing) == 2 and flowing[0].src != flowing[1].src:
            found.append(vid)
    return found


def _reinforce(ctx, fr, product, x, w, log_probs) -> Finding | None:
    t = ctx.view.tensor_of(_through(ctx, x, ()))
    if t is None or t.id not in log_probs:
        return None
    reach = fr.reach_of(w) & fr.trainable
    if not reach:
        return None
    weight = ctx.view.tensor_of(w)
    names = [ctx.label(ctx.tensors[i]) for i in sorted(reach)]
    wname = ctx.code(weight.id) if weight is not None else "the weight"
    pline = ctx.view.line(product)
    return Finding(
        "GS703", "warning", f"the weight of `log_prob(...)` at line {pline} carries gradient into {listed(names)}",
        unique([weight.line if weight is not None else None, pline]), names,
        f"{wname} (line {weight.line if weight is not None else '?'}) multiplies a log-probability at line "
        f"{pline} and still carries the graph of {listed(names, 8)}: the policy-gradient term also pushes "
        "gradient into them (a baseline or critic trained to make the advantage large), not only the loss "
        "meant for them.",
        f"detach the weight: `{_short(ctx, weight)}.detach()` (the advantage / return is a constant in "
        "REINFORCE), and train the baseline with its own loss")


def _soft_target(ctx, fr, product, x, w) -> Finding | None:
    """`p * log_q` with p a probability from a separate pass through the tensors log_q comes from."""
    lq = _through(ctx, x, _LOG_PROBS)
    p = _through(ctx, w, _PROBS)
    if not (ctx.view.grad_fn(lq) or "").startswith(_LOG_PROBS) or not (ctx.view.grad_fn(p) or "").startswith(_PROBS):
        return None
    shared = (fr.reach_of(p) & fr.reach_of(lq)) & fr.trainable
    if not shared or _below(ctx, p) & _below(ctx, lq):
        return None  # another model (a teacher), or the same pass (an entropy)
    target = ctx.view.tensor_of(p)
    names = [ctx.label(ctx.tensors[i]) for i in sorted(shared)]
    pline = ctx.view.line(product)
    tname = ctx.code(target.id) if target is not None else "the target"
    tline = target.line if target is not None else ctx.view.line(p)
    return Finding(
        "GS702", "warning", f"the soft target {tname} carries gradient into the model it is a target for",
        unique([tline, pline]), names,
        f"{tname} (line {tline}) is a probability computed by another forward pass through {listed(names, 8)} "
        f"without detach(), and multiplies a log-probability of the same model at line {pline}: backward also "
        "moves the target's pass towards the prediction, so the target chases the student.",
        f"use `{_short(ctx, target)}.detach()` as the target (or compute it under torch.no_grad())")


def _through(ctx, vid, stop) -> str:
    """Follow `vid` down through nodes that only move values (view, squeeze, ...) to what made it."""
    for _ in range(16):
        name = ctx.view.grad_fn(vid) or ""
        if name.startswith(stop) if stop else False:
            return vid
        inputs = [e for e in ctx.view.inputs.get(vid, []) if e.flows_grad]
        if not name.startswith(_PASS_THROUGH + ("DivBackward", "MulBackward")) or len(inputs) != 1:
            return vid
        vid = inputs[0].src
    return vid


def _below(ctx, vid) -> set[str]:
    """Non-leaf vertices a side was computed from (through flowing edges), bounded."""
    seen, stack = set(), [vid]
    while stack and len(seen) < MAX_SIDE:
        v = stack.pop()
        for e in ctx.view.inputs.get(v, []):
            if e.flows_grad and e.src not in seen:
                t = ctx.view.tensor_of(e.src)
                if t is not None and t.is_leaf:
                    continue
                seen.add(e.src)
                stack.append(e.src)
    return seen






def _short(ctx, t) -> str:
    return ctx.short(t.id) if t is not None and (t.name or t.param_name) else "target"
