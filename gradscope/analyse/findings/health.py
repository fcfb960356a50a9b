"""GS9xx: gradient health, from the norms taken after every backward call and from `--nan`.

GS901 where the first NaN/Inf came from (`--nan`), GS902 non-finite gradients, GS903 vanishing
gradients, GS904 exploding gradients (growth), GS905 gradients that are exactly zero at every call,
GS906 dead units: rows of a Linear weight (output units) whose gradient is zero at every call.
Findings from the numbers need MIN_CALLS calls at a backward line; a module is judged against the
model's other modules at the same calls, so that a healthy model's normal spread says nothing.
"""

from __future__ import annotations

import statistics

from gradscope.analyse.findings.context import Context, Finding, listed, plural, unique
from gradscope.analyse.norms import MIN_CALLS, Unit, call_medians, growth, model_series, natural_key, span, units
from gradscope.capture import NanOrigin, NormSite

VANISHING_RATIO = 1e-3  # below this fraction of the model's median module norm...
VANISHING_SHARE = 0.75  # ...at this share of the calls (and at the last one)
EXPLODING_GROWTH = 100.0  # this much growth...
EXPLODING_OVER = 20  # ...over at least this many calls


def gradient_health(ctx: Context) -> list[Finding]:
    health = ctx.capture.grad_health
    if health is None:
        return []
    forward = [o.call for o in health.nan if o.phase == "forward"]
    # a backward origin after a forward one is that forward NaN/Inf flowing back: said once
    out = [_nan_origin(ctx, o) for o in health.nan
           if o.phase == "forward" or not any(call < o.call for call in forward)]
    for site in health.sites:
        if site.calls < MIN_CALLS:
            continue
        site_units = units(ctx.capture, site)
        out += _nonfinite(ctx, site, site_units)
        out += _vanishing(ctx, site, site_units)
        out += _exploding(ctx, site, site_units)
        out += _all_zero(ctx, site, site_units)
        out += _dead_units(ctx, site)
    return out


def _where(site: NormSite) -> str:
    return f"line {site.line}" if site.line is not None else "the backward call"


def _unit_line(ctx: Context, unit: Unit) -> int | None:
    """Where the module (its first parameter) was made."""
    for tid in unit.tensors:
        t = ctx.tensors.get(tid)
        if t is not None and t.line is not None:
            return t.line
    return None


# -- GS901: --nan ------------------------------------------------------------------------------------

_FORWARD_FIXES = {
    "log": "keep its input positive: log(x.clamp_min(eps)) or log(x + eps); for log(softmax(..)) use "
           "log_softmax, which never takes the log of 0",
    "log2": "keep its input positive: clamp_min(eps) before the log",
    "log10": "keep its input positive: clamp_min(eps) before the log",
    "sqrt": "keep its input positive (clamp_min(eps)); sqrt of 0 is finite but its gradient is not",
    "rsqrt": "keep its input away from 0: rsqrt(x + eps)",
    "div": "keep the divisor away from 0: a / (b + eps), or b.clamp_min(eps)",
    "true_divide": "keep the divisor away from 0: a / (b + eps)",
    "__truediv__": "keep the divisor away from 0: a / (b + eps)",
    "exp": "exp overflows above ~88 in float32: subtract the max first (logsumexp, softmax do), or clamp",
    "pow": "a negative base to a fractional power, or 0 to a negative one: clamp the base",
    "__pow__": "a negative base to a fractional power, or 0 to a negative one: clamp the base",
}


def _nan_origin(ctx: Context, o: NanOrigin) -> Finding:
    value = "NaN" if o.value == "nan" else "Inf"
    at = f"backward call {o.call}" if o.phase == "backward" else (
        f"the forward pass after {o.call} backward call{'s' if o.call != 1 else ''}")
    module = f" in module `{o.module}`" if o.module else ""
    name = f" (`{o.name}`)" if o.name else ""
    if o.phase == "forward":
        if o.inputs_finite and o.inputs_inf:
            message = (f"`{o.op}` at line {o.line}{module} made {value}{name} in {at} from inputs without NaN but "
                       f"holding ±Inf: {'; '.join(o.inputs)}. 0 × Inf, Inf − Inf and a softmax over a row that is "
                       "-inf everywhere (a fully masked row) give NaN, and so do the gradients through them.")
        elif o.inputs_finite:
            message = (f"`{o.op}` at line {o.line}{module} made {value}{name} from finite inputs, in {at}: "
                       f"{'; '.join(o.inputs) or 'no tensor inputs'}. What is computed from it is non-finite too, "
                       "and so are the gradients through it (even where a later torch.where or mask discards the "
                       "value: 0 times NaN is NaN in backward).")
        else:
            message = (f"`{o.op}` at line {o.line}{module} is the first op seen with a non-finite output, in {at}, "
                       f"but an input was already non-finite when it arrived ({'; '.join(o.inputs)}): it came "
                       "from outside the ops gradscope sees (the data, numpy, a file).")
        fix = _FORWARD_FIXES.get(o.op, "guard that op's input (clamp, add an eps), or check the data feeding it")
        if o.inputs_inf:
            fix = ("keep the Inf out of that op: mask with a large finite value (torch.finfo(dtype).min) instead of "
                   "-inf, leave at least one unmasked position in every row, or select with torch.where instead "
                   "of multiplying by a mask")
        if not o.inputs_finite:
            fix = "check the data for NaN/Inf before it enters the model (torch.isfinite(x).all())"
        return Finding("GS901", "error", f"first {value} made by `{o.op}` at line {o.line}", unique([o.line]),
                       [o.name] if o.name else [], message, fix)
    made = f" ({o.inputs[0]})" if o.inputs else ""
    where = f" at line {o.line}" if o.line is not None else " (made inside torch, e.g. autocast's cast)"
    if ctx.capture.grad_health.grad_scaler:
        return Finding(
            "GS901", "info", f"first {value} gradient made by `{o.op}`{where}, with a GradScaler",
            unique([o.line]), [],
            f"In {at}, the gradient leaving `{o.op}`{made}{where}{module} became {value}. The script unscales its "
            "gradients with a GradScaler, which skips the optimizer step of such a call and lowers its scale: "
            "normal with mixed precision now and then (a float16 gradient that overflowed at that scale).",
            "nothing, unless most steps are skipped (then lower the GradScaler's init_scale or the learning rate)")
    message = (f"In {at}, the gradient leaving `{o.op}`{made}{where}{module} became {value} although "
               "the gradient reaching it was finite: the derivative of that op is infinite at the values the "
               "forward pass gave it (sqrt or pow at 0, log at 0, division by a tiny number), or its "
               "forward value was already infinite.")
    fix = ("keep that op away from the point where its derivative blows up: add an eps (sqrt(x + eps)), "
           "clamp its input, or use a stable form (log_softmax, logsumexp, F.normalize with eps)")
    return Finding("GS901", "error", f"first {value} gradient made by `{o.op}`{where}",
                   unique([o.line]), [], message, fix)


# -- GS902: non-finite gradients ------------------------------------------------------------------------


def _nonfinite(ctx: Context, site: NormSite, site_units: list[Unit]) -> list[Finding]:
    bad = [u for u in site_units if u.series.nonfinite]
    if not bad:
        return []
    bad.sort(key=lambda u: (u.series.first_nonfinite or 0, u.name))
    names = [u.name for u in bad]
    first = min(u.series.first_nonfinite for u in bad if u.series.first_nonfinite is not None)
    counts = max(u.series.nonfinite for u in bad)
    health = ctx.capture.grad_health
    if health.grad_scaler:
        return [Finding(
            "GS902", "info", f"non-finite gradients in {len(bad)} module(s), skipped by GradScaler",
            unique([site.line]), names,
            f"{listed(names)} had NaN/Inf gradients after {counts} of {site.calls} backward calls at {_where(site)} "
            f"(first at call {first}). The script unscales with a GradScaler, which skips those optimizer steps "
            "and lowers its scale: normal with mixed precision when it happens now and then.",
            "nothing, unless most steps are skipped (then lower the initial scale or the learning rate)")]
    origin = " `gradscope trace --nan` finds the op that made it first." if not health.nan_checked else ""
    which = listed(names, 2) if len(names) <= 2 else f"{len(names)} modules"
    return [Finding(
        "GS902", "error", f"gradients of {which} became NaN/Inf",
        unique([site.line] + [_unit_line(ctx, u) for u in bad]), names,
        f"{listed(names)} had NaN/Inf gradients after {counts} of {site.calls} backward calls at {_where(site)}, "
        f"first at backward call {first}.{origin} An optimizer step with such gradients writes NaN into the "
        "weights, and every later step stays NaN.",
        "find and guard the op that makes the first NaN/Inf (eps, clamp, log_softmax instead of log(softmax)); "
        "if the weights blew up first, lower the learning rate or clip gradients (clip_grad_norm_)")]


# -- GS903: vanishing -------------------------------------------------------------------------------------


def _vanishing(ctx: Context, site: NormSite, site_units: list[Unit]) -> list[Finding]:
    if len(site_units) < 2:
        return []
    medians = call_medians(site_units)
    weak = []
    for unit in site_units:
        points = [(c, v) for c, v in unit.points().items() if v and c in medians]
        if len(points) < MIN_CALLS:
            continue
        low = [(c, v) for c, v in points if v < VANISHING_RATIO * medians[c]]
        last_call = points[-1][0]
        if len(low) >= VANISHING_SHARE * len(points) and low and low[-1][0] == last_call:
            weak.append((unit, low, len(points)))
    if not weak or len(weak) == len(site_units):
        return []
    names = [u.name for u, _, _ in weak]
    model_median = statistics.median(medians.values())
    details = "; ".join(f"`{u.name}` median {u.series.median:.2g} ({len(low)} of {n} calls)"
                        for u, low, n in weak[:4])
    calls = [c for _, low, _ in weak for c, _ in low]
    return [Finding(
        "GS903", "warning", f"vanishing gradients in {len(weak)} module(s) ({span(calls)})",
        unique([_unit_line(ctx, u) for u, _, _ in weak] + [site.line]), names,
        f"The gradient norm of {listed(names)} stays below {VANISHING_RATIO:g} of the model's median module "
        f"norm (about {model_median:.2g}) at most backward calls at {_where(site)}: {details}. Those "
        "layers barely learn; in a deep stack this is usually saturating activations (sigmoid, tanh) "
        "multiplying small derivatives layer after layer.",
        "use ReLU/GELU instead of sigmoid/tanh between layers, add residual connections or normalization "
        "(LayerNorm/BatchNorm), and an init matched to the activation (kaiming for ReLU, xavier for tanh)")]


# -- GS904: exploding -------------------------------------------------------------------------------------


def _exploding(ctx: Context, site: NormSite, site_units: list[Unit]) -> list[Finding]:
    model = model_series(site)
    total = growth(model, EXPLODING_OVER) if model is not None else None
    if total is None or total[0] < EXPLODING_GROWTH:
        return []
    grown = []
    for unit in site_units:
        g = growth(unit.series, EXPLODING_OVER)
        if g is not None and g[0] >= EXPLODING_GROWTH:
            grown.append((unit, g))
    grown.sort(key=lambda item: -item[1][0])
    names = [u.name for u, _ in grown] or ["model"]
    factor, start, peak = total
    details = "; ".join(f"`{u.name}` ×{g[0]:.3g}" for u, g in grown[:4])
    clip = ctx.capture.grad_health.clip_max_norm
    lines = unique([_unit_line(ctx, u) for u, _ in grown] + [site.line])
    message = (f"The model's gradient norm grew ×{factor:.3g} from calls {start}–{start + 9} to call {peak} "
               f"at {_where(site)} ({model.median:.2g} median, {model.max:.2g} at most)"
               f"{': ' + details if details else ''}. Growth like this usually ends in NaN: each step "
               "makes the weights that amplify the gradient larger.")
    if clip is not None:
        return [Finding(
            "GS904", "info", f"gradients grew ×{factor:.3g} over {peak - start} calls; the script clips them "
            f"to {clip:g}", lines, names,
            message + f" The script clips the total norm to {clip:g} (clip_grad_norm_) before each step, so "
            "the updates stay bounded; the norms shown are before clipping.",
            "nothing if training converges; otherwise lower the learning rate")]
    return [Finding(
        "GS904", "warning", f"exploding gradients: ×{factor:.3g} over {peak - start} calls ({span([start, peak])})",
        lines, names, message,
        "clip gradients before the optimizer step (torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)), "
        "lower the learning rate, or for recurrent nets keep the recurrent weights' spectral radius below 1 "
        "(orthogonal init, gated cells such as LSTM/GRU)")]


# -- GS905: all-zero --------------------------------------------------------------------------------------


def _all_zero(ctx: Context, site: NormSite, site_units: list[Unit]) -> list[Finding]:
    held = ctx.optimizer_params()
    dead = [u for u in site_units if u.tensors and u.series.calls >= MIN_CALLS and u.series.zeros == u.series.calls
            and all(t in held for t in u.tensors)]
    if not dead:
        return []
    names = [u.name for u in dead]
    return [Finding(
        "GS905", "warning", f"{len(dead)} module(s) in the optimizer got exactly zero gradients at every call",
        unique([_unit_line(ctx, u) for u in dead] + [site.line]), names,
        f"The gradients of {listed(names)} were exactly zero after all {dead[0].series.calls} backward calls at "
        f"{_where(site)}, although the optimizer holds {plural(names, 'it', 'them')}: gradient reaches "
        f"{plural(names, 'it', 'them')} only through units that never pass it on (ReLUs that are never "
        "active, a gate that never opens, a mask that is always 0).",
        "check the activations after that layer (dead ReLUs: use LeakyReLU/GELU, a smaller learning rate, "
        "or a bias/init that keeps units active), or the gate/mask that blocks it")]


# -- GS906: dead units ------------------------------------------------------------------------------

DEAD_SHARE = 0.1  # a layer says nothing below this share of dead units (a few are normal in a ReLU net)...
DEAD_WARNING_SHARE = 0.5  # ...and is a warning from this share on, else info


def _dead_units(ctx: Context, site: NormSite) -> list[Finding]:
    """Linear weights with some (not all: that is GS905's) rows whose gradient was exactly zero
    after every call that gave the weight a gradient: at least DEAD_SHARE of them."""
    held = ctx.optimizer_params() if ctx.capture.optimizers else None
    dead = [s for s in site.series if s.of == "parameter" and s.rows and DEAD_SHARE * s.rows <= s.dead_rows < s.rows
            and s.calls >= MIN_CALLS and (held is None or s.tensor in held)]
    if not dead:
        return []
    dead.sort(key=lambda s: natural_key(s.name))
    names = [s.name for s in dead]
    share = max(s.dead_rows / s.rows for s in dead)
    parts = []
    for s in dead[:4]:
        rows = ", ".join(map(str, s.dead_rows_at[:8])) + (", …" if s.dead_rows > 8 else "")
        parts.append(f"{s.dead_rows} of {s.rows} output units of `{_layer(s.name)}` (rows {rows} of `{s.name}`)")
    more = f", and {len(dead) - 4} more weights" if len(dead) > 4 else ""
    counts = {s.calls for s in dead}
    calls = (f"each of the {counts.pop()} backward calls" if len(counts) == 1
             else f"every one of the {min(counts)} or more backward calls")
    if len(dead) == 1:
        s = dead[0]
        title = f"{s.dead_rows} of {s.rows} units of `{_layer(s.name)}` got zero gradient at every call"
    else:
        title = f"dead units in {len(dead)} Linear layers: zero gradient at every call"
    lines = unique([ctx.tensors[s.tensor].line for s in dead if s.tensor in ctx.tensors] + [site.line])
    return [Finding(
        "GS906", "warning" if share >= DEAD_WARNING_SHARE else "info", title, lines, names,
        f"{'; '.join(parts)}{more} got exactly zero gradient after {calls} at {_where(site)} that gave the "
        "weight a gradient, while its other units did get some. Those units never learn "
        "(their biases neither): usually ReLUs that are never active for any input (dead ReLUs: a large negative "
        "bias, or a learning rate that pushed them there), or outputs that nothing downstream reads (sliced "
        "off, masked, multiplied by 0).",
        "if they are dead ReLUs: LeakyReLU/GELU, a smaller learning rate, or an init/bias that keeps units "
        "active; if the outputs are unused, make the layer smaller")]


def _layer(param: str) -> str:
    return param.rsplit(".", 1)[0] if "." in param else param
