"""GS601: inference tensors (torch.inference_mode()) used in autograd."""

from __future__ import annotations

from gradscope.analyse.findings.context import Context, Finding, unique, listed, first_sentence
from gradscope.capture import ErrorEvent


def inference_in_autograd(ctx: Context) -> list[Finding]:
    out = []
    for event in ctx.of_kind(ErrorEvent):
        error = event.error
        if "nference tensor" not in error:
            continue
        tensors = [ctx.tensors[i] for i in event.tensors if i in ctx.tensors]
        names = [ctx.label(t) for t in tensors]
        entered = unique(t.cut_line for t in tensors)  # the line that entered inference_mode
        made = unique(t.line for t in tensors)
        where = (f" (made at line {', '.join(map(str, made))} under torch.inference_mode() entered at line "
                 f"{', '.join(map(str, entered))})" if made and entered else "")
        subject = f"`{listed(names)}`" if names else "an inference tensor"
        out.append(Finding(
            "GS601", "error", f"{subject} from torch.inference_mode() used in autograd",
            unique([*entered, *made, event.line]), names,
            f"{subject}{where} is an inference tensor; `{event.op}` at line {event.line} records "
            f"a graph that needs it, and PyTorch raised: {first_sentence(error.split(': ', 1)[-1])}",
            "compute it under torch.no_grad() instead of torch.inference_mode(), or use `.clone()` of it "
            "(outside inference_mode) in the computation that needs gradients"))
    return out
