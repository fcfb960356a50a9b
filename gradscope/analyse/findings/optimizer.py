"""GS801/GS802: the optimizer audit (frozen parameters held, trained parameters left out)."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, unique, plural, listed


def optimizer_audit(ctx: Context) -> list[Finding]:
    capture = ctx.capture
    if not capture.optimizers:
        return []
    out = []
    for opt in capture.optimizers:
        frozen = [ctx.tensors[p] for p in opt.get("params", []) if p in ctx.tensors
                  and ctx.tensors[p].kind == "frozen"]
        if frozen:
            names = [ctx.label(t) for t in frozen]
            out.append(Finding(
                "GS801", "info", f"optimizer `{opt.get('name')}` holds {len(frozen)} frozen parameter(s)",
                unique(ctx.freeze_line(t) for t in frozen), names,
                f"{listed(names)} {plural(names, 'does', 'do')} not require grad but {plural(names, 'was', 'were')} given to `{opt.get('name')}` ({opt.get('type')}); "
                "they get no gradient and are skipped at each step, but still sit in its parameter groups.",
                "build the optimizer from the trainable ones only: "
                "torch.optim.X(filter(lambda p: p.requires_grad, model.parameters()), ...)"))
    held = ctx.optimizer_params()
    outside = [t for t in ctx.tensors.values() if t.kind == "parameter" and t.id not in held]
    if capture.backward_calls and outside:
        trained = [t for t in outside if ctx.got_grad(t)]
        idle = [t for t in outside if not ctx.got_grad(t)]
        if trained:
            names = [ctx.label(t) for t in trained]
            out.append(Finding(
                "GS802", "warning", f"{len(trained)} parameter(s) get gradients but sit in no optimizer",
                unique(t.line for t in trained), names,
                f"{listed(names)} {plural(names, 'receives', 'receive')} gradients but no optimizer holds "
                f"{plural(names, 'it', 'them')}: never updated (a forgotten parameter), or wasted work.",
                "add them to the optimizer, or freeze them (requires_grad_(False)) / compute their part "
                "under torch.no_grad()"))
        if idle:
            names = [ctx.label(t) for t in idle]
            out.append(Finding(
                "GS802", "info", f"{len(idle)} parameter(s) require grad but sit in no optimizer",
                unique(t.line for t in idle), names,
                f"{listed(names)} {plural(names, 'requires', 'require')} grad, {plural(names, 'gets', 'get')} "
                f"none, and no optimizer holds {plural(names, 'it', 'them')} (e.g. a frozen teacher, a target "
                "network used under no_grad, or a module used only as a template).",
                "call requires_grad_(False) on them to make the intent explicit"))
    return out
