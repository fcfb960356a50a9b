"""GS102-GS109: the autograd error catalogue. Each error PyTorch raises is matched by its message
and explained from the capture, naming the line that caused it (not only the line that raised).

GS101 (no grad_fn) has its own module, `no_graph`; GS401, GS501 and GS601 keep theirs. GS109 is
the catch-all: any other exception raised by a backward call gets the raising line, the tensors
involved and the state of the graph at that moment.
"""

from __future__ import annotations

import re

from gradscope.analyse.findings.context import Context, Finding, first_sentence, listed, unique
from gradscope.capture import CustomBackwardEvent, ErrorEvent, RootInfo

SECOND_TIME = "backward through the graph a second time"
LEAF_INPLACE = "leaf Variable that requires grad is being used in an in-place operation"
NOT_SCALAR = "grad can be implicitly created only for scalar outputs"
WRONG_COUNT = re.compile(r"[Ff]unction (\w+) returned an incorrect number of gradients \(expected (\d+), got (\d+)\)")
WRONG_GRAD = re.compile(r"Function (\w+) returned an invalid gradient at index (\d+) - (.*)")
NUMPY_GRAD = "Can't call numpy() on Tensor that requires grad"
DDP_UNUSED = "Expected to have finished reduction in the prior iteration"
# Messages the other families explain: the catch-all stays quiet about them.
EXPLAINED_ELSEWHERE = ("does not require grad and does not have a grad_fn", "modified by an inplace operation",
                       "nference tensor", "floating point")
_LEAF_KINDS = ("parameter", "frozen", "leaf", "constant", "detached", "no_grad", "inference", "nondiff")


def _exception(ctx: Context) -> dict:
    return ctx.capture.exit.get("exception") or {}


def _message(ctx: Context, root: RootInfo | None) -> str:
    return (root.raised if root is not None else None) or _exception(ctx).get("message") or ""


# -- GS102: backward through a graph an earlier backward freed ---------------------------------


def second_backward(ctx: Context) -> list[Finding]:
    failing = [r for r in ctx.capture.roots if r.raised and SECOND_TIME in r.raised]
    out = []
    for root in failing:
        found = _shared_with_earlier(ctx, root)
        if found is None:
            out.append(_second_unknown(ctx, root.line, root.raised))
            continue
        earlier, frontier, consumers = found
        names = [ctx.view.label(v) for v in frontier]
        made = unique(ctx.view.line(v) for v in frontier)
        first = earlier.line
        again = " (an earlier call of the same line)" if first == root.line else ""
        shown = ", ".join(_vertex_text(ctx, v) for v in frontier)
        out.append(Finding(
            "GS102", "error", f"backward() at line {root.line} goes again through a graph freed at line {first}",
            unique([first, *consumers, *made, root.line]), names,
            f"backward() at line {first}{again} freed the graph behind {shown} (made at line "
            f"{', '.join(map(str, made))}){_used_at(consumers)}; backward() at line {root.line} reaches the same "
            f"graph through {shown} and needs it again. PyTorch raised: {first_sentence(root.raised)}",
            f"call backward() once on the sum of the losses (e.g. `(loss_a + loss_b).backward()`), or pass "
            f"retain_graph=True to the backward() at line {first}; if {shown} comes from an earlier step "
            "(a hidden state, a generated sample), .detach() it before it is used again"))
    if not out:
        message = _exception(ctx).get("message") or ""
        if SECOND_TIME in message:
            out.append(_second_unknown(ctx, _exception(ctx).get("line"), message))
    return out


def _used_at(lines: list[int]) -> str:
    return f", after using it at line {', '.join(map(str, lines))}" if lines else ""


def _second_unknown(ctx: Context, line, message: str) -> Finding:
    earlier = ctx.backward_lines()
    return Finding(
        "GS102", "error", f"backward through a graph that was already freed (line {line})",
        unique([*earlier, line]), [],
        f"the backward at line {line} needs saved values of a graph that an earlier backward "
        f"(line {', '.join(map(str, earlier)) or '?'}) already freed. PyTorch raised: {first_sentence(message)}",
        "call backward() once on the sum of the losses, or pass retain_graph=True to the first backward(); "
        "detach tensors carried from one step to the next (hidden states)")


def _shared_with_earlier(ctx: Context, root: RootInfo):
    """The most recent earlier root whose graph shares non-leaf vertices with `root`'s graph, the
    shared vertices nearest to `root` (the frontier) and the lines where the earlier graph used them."""
    mine = _reach(ctx, f"t{root.tensor}")
    earlier = [r for r in ctx.capture.roots if r is not root and r.call not in ("implicit", "selected")
               and r.step is not None and root.step is not None and r.step < root.step]
    for other in sorted(earlier, key=lambda r: -(r.step or 0)):
        theirs = _reach(ctx, f"t{other.tensor}")
        shared = {v for v in mine & theirs if _has_graph(ctx, v)}
        if not shared:
            continue
        frontier = sorted((v for v in shared if any(e.dst in mine and e.dst not in shared
                                                    for e in ctx.view.consumers.get(v, []))),
                          key=lambda v: (not v.startswith("t"), v))
        frontier = frontier or sorted(shared)[:1]
        consumers = unique(ctx.view.line(e.dst) for v in frontier for e in ctx.view.consumers.get(v, [])
                           if e.dst in theirs and e.dst not in shared)
        return other, frontier[:3], consumers
    return None


def _vertex_text(ctx: Context, vid: str) -> str:
    """For prose: "`h`" for a named tensor, "the output of `gru`" for a node no tensor owns."""
    t = ctx.view.tensor_of(vid)
    if t is not None:
        return ctx.code(t.id)
    node = ctx.view.node_of(vid)
    return f"the output of `{node.op}`" if node is not None and node.op else f"`{ctx.view.label(vid)}`"


def _has_graph(ctx: Context, vid: str) -> bool:
    t = ctx.view.tensor_of(vid)
    return t is None or t.kind not in _LEAF_KINDS


def _reach(ctx: Context, start: str) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        for edge in ctx.view.inputs.get(stack.pop(), []):
            if edge.flows_grad and edge.src not in seen:
                seen.add(edge.src)
                stack.append(edge.src)
    return seen




# -- GS103: an in-place op on a leaf that requires grad ----------------------------------------


def inplace_on_leaf(ctx: Context) -> list[Finding]:
    if LEAF_INPLACE not in (_exception(ctx).get("message") or ""):
        return []
    out = []
    for event in ctx.of_kind(ErrorEvent):
        error = event.error
        if LEAF_INPLACE not in error:
            continue
        view = "a view of a leaf" in error
        leaf = event.base if view and event.base is not None else event.tensor
        name = ctx.code(leaf) if leaf is not None else "a leaf tensor"
        line, op = event.line, event.op
        subject = f"a view of {name}" if view else name
        out.append(Finding(
            "GS103", "error", f"in-place `{op}` on {subject}, which requires grad",
            unique([line]), [ctx.name(leaf)] if leaf is not None else [],
            f"line {line} changes {subject} in place with `{op}` while gradient tracking is on; {name} is a leaf "
            "that requires grad (a parameter or a tensor made with requires_grad=True), and PyTorch refuses to "
            f"record such a change: {first_sentence(error.split(': ', 1)[-1])}",
            "wrap updates of parameters in `with torch.no_grad():` (e.g. `with torch.no_grad(): w -= lr * w.grad`), "
            "or use an optimizer; for a change that is part of the model, use an out-of-place op "
            "(`w = w * mask`)"))
        break  # the script died of the first one
    if not out:
        exc = _exception(ctx)
        out.append(Finding(
            "GS103", "error", "in-place op on a leaf that requires grad", unique([exc.get("line")]), [],
            f"line {exc.get('line')} changes a leaf that requires grad in place with gradient tracking on. "
            f"PyTorch raised: {first_sentence(exc.get('message', ''))}",
            "wrap the update in `with torch.no_grad():`, or use an out-of-place op"))
    return out


# -- GS104: backward() on a non-scalar without a gradient ----------------------------------------


def nonscalar_backward(ctx: Context) -> list[Finding]:
    out = []
    for root in ctx.capture.roots:
        if not root.raised or NOT_SCALAR not in root.raised:
            continue
        t = ctx.tensors.get(root.tensor)
        name = ctx.code(root.tensor)
        shape = f" of shape {t.shape}" if t is not None and t.shape is not None else ""
        made = t.line if t is not None else None
        out.append(Finding(
            "GS104", "error", f"backward() on {name}, which is not a scalar",
            unique([made, root.line]), [ctx.name(root.tensor)],
            f"{name}{shape} (made at line {made}) has more than one element, so backward() at line {root.line} "
            "cannot create the starting gradient by itself (it does so only for scalars); a loss with "
            "reduction='none', or a forgotten .mean()/.sum(), is the usual cause.",
            f"reduce it to a scalar first (`{ctx.short(root.tensor)}.mean().backward()`, or a weighted "
            f"sum), or pass the gradient explicitly: `.backward(torch.ones_like(...))`"))
    return out


# -- GS105: a custom autograd.Function whose backward returns the wrong gradients ------------------


def custom_function_backward(ctx: Context) -> list[Finding]:
    out = []
    message = ""
    line = None
    for root in ctx.capture.roots:
        if root.raised and (WRONG_COUNT.search(root.raised) or WRONG_GRAD.search(root.raised)):
            message, line = root.raised, root.line
            break
    else:
        exc = _exception(ctx)
        if WRONG_COUNT.search(exc.get("message") or "") or WRONG_GRAD.search(exc.get("message") or ""):
            message, line = exc.get("message"), exc.get("line")
    if not message:
        return out
    count, grad = WRONG_COUNT.search(message), WRONG_GRAD.search(message)
    node = (count or grad).group(1)
    function = node.removesuffix("Backward")
    info = next((e for e in ctx.of_kind(CustomBackwardEvent) if e.node == node), CustomBackwardEvent())
    returns = info.returns
    where = f" (`{function}.backward`, line {info.line})" if info.line else ""
    if count:
        what = (f"returns {count.group(3)} gradient(s), but `{function}.forward` takes {count.group(2)} "
                "inputs and backward must return one per input (None for inputs that need none)")
        fix = f"return exactly {count.group(2)} values from `{function}.backward`, in the order of forward's inputs"
    else:
        what = f"returns a gradient of the wrong shape for input {grad.group(2)} ({grad.group(3)})"
        fix = ("return, for each input, a gradient of that input's shape (sum over the dimensions that were "
               "broadcast, e.g. `grad_out.sum(0)` for a bias)")
    out.append(Finding(
        "GS105", "error", f"custom Function `{function}`: backward {what.split(',')[0]}",
        unique([*returns, info.line, info.apply_line, line]), [],
        f"the backward of the custom autograd Function `{function}`{where} {what}. backward() at line {line} "
        f"raised: {first_sentence(message)}",
        fix))
    return out


# -- GS106: .numpy() on a tensor that requires grad -----------------------------------------------


def numpy_on_grad(ctx: Context) -> list[Finding]:
    exc = _exception(ctx)
    if NUMPY_GRAD not in (exc.get("message") or ""):
        return []
    event = next((e for e in ctx.of_kind(ErrorEvent) if NUMPY_GRAD in e.error), ErrorEvent())
    line = event.line or exc.get("line")
    tid = event.tensor
    name = ctx.code(tid) if tid is not None else "a tensor that requires grad"
    return [Finding(
        "GS106", "error", f"`.numpy()` on {name}, which requires grad",
        unique([line]), [ctx.name(tid)] if tid is not None else [],
        f"line {line} converts {name} to NumPy while it is still part of the autograd graph; NumPy arrays "
        "cannot carry gradient, so PyTorch refuses.",
        "use `.detach().numpy()` (or `.detach().cpu().numpy()`) for metrics and logging; keep the loss in torch")]


# -- GS107: DDP parameters that got no gradient -----------------------------------------------------


def ddp_unused(ctx: Context) -> list[Finding]:
    exc = _exception(ctx)
    message = exc.get("message") or ""
    if DDP_UNUSED not in message:
        return []
    indices = re.search(r"Parameter indices which did not receive grad for rank \d+: ([\d ]+)", message)
    named = re.search(r"Parameters which did not receive grad for rank \d+: ([\w., ]+)", message)
    names = [n.strip() for n in named.group(1).split(",")] if named else []
    idle = [t for t in ctx.tensors.values() if t.kind == "parameter" and not ctx.got_grad(t) and ctx.watched(t)]
    names = names or [ctx.label(t) for t in idle]
    lines = unique([*(t.line for t in idle), *ctx.backward_lines(), exc.get("line")])
    listing = f" ({listed(names, 8)})" if names else (f" (indices {indices.group(1).strip()})" if indices else "")
    return [Finding(
        "GS107", "error", "DistributedDataParallel: parameters got no gradient in the previous step",
        lines, names,
        f"some parameters of the DDP model{listing} took no part in computing the loss of the previous "
        f"iteration, so their gradients were never reduced and line {exc.get('line')} raised: "
        f"{first_sentence(message)}",
        "make every parameter take part in the loss (or delete the unused ones), or build DDP with "
        "find_unused_parameters=True")]


# -- GS109: any other exception raised by a backward call ---------------------------------------------

_KNOWN = (SECOND_TIME, LEAF_INPLACE, NOT_SCALAR, NUMPY_GRAD, DDP_UNUSED, *EXPLAINED_ELSEWHERE)


def other_backward_error(ctx: Context) -> list[Finding]:
    out = []
    for root in ctx.capture.roots:
        message = root.raised
        if not message or any(k in message for k in _KNOWN) or WRONG_COUNT.search(message) \
                or WRONG_GRAD.search(message):
            continue
        t = ctx.tensors.get(root.tensor)
        reach = _reach(ctx, f"t{root.tensor}")
        leaves = [ctx.view.tensor_of(v) for v in reach if v.startswith("t")]
        leaves = [x for x in leaves if x is not None and x.kind in ("parameter", "leaf")]
        nodes = sum(1 for v in reach if ctx.view.node_of(v) is not None)
        names = [ctx.label(x) for x in leaves]
        state = (f"the graph of {ctx.code(root.tensor)} (made at line {t.line if t else '?'}) had {nodes} "
                 f"node(s) and reached {len(leaves)} trainable tensor(s)" + (f" ({listed(names)})" if names else ""))
        out.append(Finding(
            "GS109", "error", f"{root.call}() at line {root.line} raised {message.split(':', 1)[0]}",
            unique([root.line, t.line if t else None]), [ctx.name(root.tensor), *names[:8]],
            f"{root.call}() at line {root.line} raised: {first_sentence(message)} At that moment {state}. "
            "`gradscope trace` shows that graph.",
            "read PyTorch's message against the graph shown by `gradscope trace`; anomaly detection "
            "(torch.autograd.set_detect_anomaly(True)) names the forward line of the failing node"))
    return out
