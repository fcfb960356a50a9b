"""The cut frontier: where the descendants of trainable tensors stopped carrying gradient towards a
backward root, and which of those cuts matter (GS203, GS207-GS210).

Facts read: the recorder's `cut` events, one per (line, op) site where an op made tensors that do
not require grad from inputs that do, saying why (`detach`, `no_grad` with the line that turned grad
mode off, `inference`, `library` with the API the user called and its differentiable twin,
`nondiff` for argmax/topk/comparisons/integer casts, `copy` for torch.tensor(...) of tensors,
`value` for .item()/.tolist()/float(), `grad` for what autograd.grad returned without create_graph) and the trainable leaves upstream of it (`reaches`); and the
graph of each recorded backward call, split into the terms of the root's sum.

Two questions, one rule (issue 9, item 3): a cut is cited in a warning only if removing that cut
alone would let gradient reach a trainable tensor that it does not reach now:
1. `never`: a trainable tensor no backward gave a gradient; the sites that reach it are its frontier.
2. `cut_terms`: a term of a root's sum that would reach trainable tensors it does not reach now,
   though the rest of the training does reach them (a VAE's reconstruction term cut from the encoder
   by `sample()`). A warning only where the cut is not a choice the script made on purpose: a library
   cut with a differentiable twin (`sample()` when `rsample()` exists), values copied out of the
   graph, indices or hard decisions (argmin, a comparison) that select what the term is computed from
   (a VQ-VAE without a straight-through copy), or the script's own detach / no_grad leaving a whole term
   that trains nothing. The script's own detach / no_grad whose tensors still get gradient (a GAN's
   `fake.detach()`, truncated BPTT), an argmax token fed back into the same model (the term reaches that
   model anyway) and `sample()` of discrete distributions are not reported here.
"""

from __future__ import annotations

from dataclasses import dataclass

from gradscope.analyse.findings.context import Context, Finding, listed, unique
from gradscope.capture import CutEvent

_SUM_LIKE = ("AddBackward", "SubBackward", "NegBackward")
_SCALED = ("MulBackward", "DivBackward")  # by a Python number: one tensor input
_INDEX_OPS = frozenset({"argmax", "argmin", "topk", "sort", "argsort", "max", "min", "unique", "nonzero",
                        "multinomial", "searchsorted", "bucketize", "kthvalue", "mode", "median"})
_SAMPLING_OPS = frozenset({"multinomial", "bernoulli", "poisson", "binomial", "randint_like"})
_CASTS = frozenset({"long", "int", "short", "char", "byte", "bool", "to", "type", "round", "floor", "ceil",
                    "trunc", "sign"})


@dataclass(slots=True)
class Site:
    """One `cut` event: where and why gradient stopped, and the trainable tensors behind it."""

    file: str | None
    line: int | None
    op: str
    cut: str
    off_line: int | None
    def_line: int | None  # the decorator's line when a @torch.no_grad() function turned grad off
    api: str | None
    twin: str | None
    reaches: frozenset[int]

    @property
    def lines(self) -> list[int]:
        return unique([self.def_line, self.off_line, self.line]) if self.cut == "no_grad" else unique([self.line])


class Frontier:
    """The cut sites of a capture and, per graph vertex, what it reaches (computed once per Context)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        view = ctx.view
        self.sites: list[Site] = []
        self.by_key: dict[tuple, Site] = {}
        for e in ctx.of_kind(CutEvent):
            site = Site(e.file, e.line, e.op or "?", e.cut or "nondiff",
                        e.off_line, e.def_line, e.api, e.twin, frozenset(e.reaches or ()))
            self.sites.append(site)
            self.by_key.setdefault((site.file, site.line, site.op), site)
        self.trainable = {t.id for t in ctx.tensors.values() if _trainable_kind(t)}
        self._reach: dict[str, int] = {}  # vertex -> bitset of trainable tensors reached through flowing edges
        self._cuts: dict[str, int] = {}  # vertex -> bitset of cut vertices that alone stop gradient below it
        self._bit: dict[int, int] = {}
        self._cut_vertices: list[str] = []
        self._cut_index: dict[str, int] = {}
        self._cut_memo: dict[str, bool] = {}
        for vid in view.root_vids():
            self._solve(vid)
        self.fed = {self._cut_vertices[i] for vid in view.root_vids() for i in _bits(self._cuts.get(vid, 0))}
        self._fed_lines: set[tuple] | None = None  # see on_the_way
        self._fed_regions: set[tuple] = set()

    # -- facts per site / vertex ---------------------------------------------------------------
    def site_of(self, vid: str) -> Site | None:
        t = self.ctx.view.tensor_of(vid)
        return self.by_key.get((t.file, t.line, t.op)) if t is not None else None

    def on_the_way(self, site: Site) -> bool:
        """The site cut tensors on the way to a loss: its line made a cut tensor that feeds a recorded
        backward's graph, or it lies in the same no_grad region as such a line (under one `with`, the op
        that cut a parameter need not be the one whose result fed the loss). Not a snapshot for
        logging, nor a library's own no_grad in `__init__`. Worked out once per Frontier."""
        if self._fed_lines is None:
            sites = [self.site_of(vid) for vid in self.fed]
            self._fed_lines = {(s.file, s.line) for s in sites if s is not None}
            self._fed_regions = {(s.file, s.off_line) for s in self.sites
                                 if s.cut == "no_grad" and (s.file, s.line) in self._fed_lines}
        return (site.file, site.line) in self._fed_lines or (
            site.cut == "no_grad" and (site.file, site.off_line) in self._fed_regions)

    def reach_of(self, vid: str) -> set[int]:
        bits = self._reach.get(vid, 0)
        return {tid for tid, bit in self._bit.items() if bits & bit}

    def cuts_of(self, vid: str) -> list[str]:
        if self._is_cut(vid):
            return [vid]
        return [self._cut_vertices[i] for i in _bits(self._cuts.get(vid, 0))]

    def _is_cut(self, vid: str) -> bool:
        known = self._cut_memo.get(vid)
        if known is None:
            t = self.ctx.view.tensor_of(vid)
            known = self._cut_memo[vid] = (t is not None and not t.requires_grad and t.inputs_required_grad
                                           and not t.is_parameter)
        return known

    def _solve(self, start: str) -> None:
        """Fill `_reach` and `_cuts` for every vertex below `start` (iterative post-order)."""
        view = self.ctx.view
        inputs, solved, is_cut = view.inputs, self._reach, self._is_cut
        stack = [(start, False)]
        while stack:
            vid, done = stack.pop()
            if not done:
                if vid in solved:
                    continue
                solved[vid] = 0  # marks it in progress (a cycle cannot occur in a capture)
                stack.append((vid, True))
                stack.extend((e.src, False) for e in inputs.get(vid, ())
                             if e.src not in solved and (e.flows_grad or not is_cut(e.src)))
                continue
            reach = cuts = 0
            t = view.tensor_of(vid)
            if t is not None and t.id in self.trainable:
                reach |= self._bit_of(t.id)
            for e in inputs.get(vid, ()):
                if e.flows_grad:
                    reach |= solved.get(e.src, 0)
                    cuts |= self._cuts.get(e.src, 0)
                elif is_cut(e.src):
                    cuts |= 1 << self._cut_slot(e.src)
                else:  # a tensor without gradient made from others (a loss of detached inputs)
                    cuts |= self._cuts.get(e.src, 0)
            solved[vid] = reach
            self._cuts[vid] = cuts

    def _bit_of(self, tid: int) -> int:
        bit = self._bit.get(tid)
        if bit is None:
            bit = self._bit[tid] = 1 << len(self._bit)
        return bit

    def _cut_slot(self, vid: str) -> int:
        slot = self._cut_index.get(vid)
        if slot is None:
            slot = self._cut_index[vid] = len(self._cut_vertices)
            self._cut_vertices.append(vid)
        return slot


def frontier_of(ctx: Context) -> Frontier:
    return ctx.once(Frontier)


def _bits(value: int):
    i = 0
    while value:
        if value & 1:
            yield i
        value >>= 1
        i += 1


def _trainable_kind(t) -> bool:
    return t.kind in ("parameter", "leaf")


# -- 1. never got a gradient: the frontier's explanation (used by no_gradient.py) ---------------


def explain_never(ctx: Context, t, *, values: bool) -> tuple | None:
    """(code, key, lines, why, fix) for a trainable tensor that never got a gradient, from the cut
    sites its descendants reach; None when no recorded cut stopped them. Values read out with
    .item() count only with `values` (asked last: a logged auxiliary loss is GS202's case)."""
    fr = frontier_of(ctx)
    # gradients autograd.grad returned are read out of the graph, not data flowing on from the tensor
    sites = [s for s in fr.sites if t.id in s.reaches and s.cut != "grad" and (values or s.cut != "value")]
    if not sites:
        return None
    on_the_way = [s for s in sites if fr.on_the_way(s)]
    if on_the_way:
        sites = on_the_way
    sites.sort(key=lambda s: (s.cut == "value", s.line or 0))
    first = sites[0]
    code = _code(first)
    lines = unique(line for s in sites for line in s.lines)
    why = "; ".join(_why(s) for s in sites[:4]) + (f"; and {len(sites) - 4} more" if len(sites) > 4 else "")
    key = ("cut", tuple(lines), code)  # "cut": a leaf of the script's own, cut by its own detach, may be on purpose
    return code, key, lines, f"every path from them to a loss stops at: {why}", _fix(first)


# -- 2. a term of the loss cut from tensors the rest of the training reaches --------------------


def cut_terms(ctx: Context) -> list[Finding]:
    capture = ctx.capture
    if not capture.backward_calls or any(r.raised for r in capture.roots):
        return []
    fr = frontier_of(ctx)
    if not fr.sites:
        return []
    got = {tid for tid in fr.trainable if ctx.got_grad(ctx.tensors[tid])}
    found: dict[tuple, Finding] = {}
    for root in capture.roots:
        if root.call in ("implicit", "selected"):
            continue
        for term in _terms(ctx, f"t{root.tensor}"):
            reach = fr.reach_of(term) & fr.trainable
            sites = [(cut_vid, fr.site_of(cut_vid)) for cut_vid in fr.cuts_of(term)]
            # what the term's own detach / no_grad keeps out of it on purpose (a VQ codebook loss
            # `mse(z_q, z.detach())`) is not something another cut in the term failed to let in
            excluded = set().union(*(site.reaches for _, site in sites
                                     if site is not None and site.cut in ("detach", "no_grad")))
            for cut_vid, site in sites:
                if site is None:
                    continue
                new = (site.reaches & fr.trainable & got) - reach
                if site.cut == "nondiff":
                    new -= excluded
                if not new or not _matters(site, reach, cut_vid == term):
                    continue
                key = (site.file, site.line, site.op)
                if key in found:
                    continue
                found[key] = _term_finding(ctx, site, term, sorted(new), reach, root.line)
    return list(found.values())


def _matters(site: Site, reach: set[int], is_term: bool) -> bool:
    if site.cut == "library":
        return site.twin is not None
    if site.cut == "copy":
        return True
    if site.cut == "nondiff":
        # indices or a hard decision (argmin, a comparison) that select what a term is computed from: the
        # term never reaches what made the scores (a VQ-VAE's encoder without a straight-through copy).
        # When the term reaches those tensors anyway (an argmax token fed back into the same model), `new`
        # is empty and nothing is said.
        # a discrete sample (`Categorical.sample()` draws with multinomial) is how REINFORCE works: the
        # returns computed from it are constants on purpose
        return not is_term and site.op not in _SAMPLING_OPS
    if site.cut in ("detach", "no_grad", "inference", "grad"):
        # a term of the loss computed from the cut value that trains nothing (a loss of a prediction
        # made under no_grad, a gradient penalty on what autograd.grad returned without create_graph);
        # a cut value added as it is (`y1 + y2.detach()`) is a deliberate constant
        return not reach and not is_term
    return False


def _term_finding(ctx: Context, site: Site, term: str, new: list[int], reach: set[int], back: int | None):
    names = [ctx.label(ctx.tensors[i]) for i in new]
    t = ctx.view.tensor_of(term)
    term_name = ctx.code(t.id) if t is not None else "a term of the loss"
    term_line = t.line if t is not None else None
    rest = ("it trains nothing at all" if not reach
            else f"it still reaches {listed([ctx.label(ctx.tensors[i]) for i in sorted(reach)])}")
    return Finding(
        _code(site), "warning", f"{term_name} never reaches {listed(names)}: {_verb(site)} at line {site.line} cuts it",
        unique([*site.lines, term_line, back]), names,
        f"{term_name} (line {term_line}) is part of the loss backpropagated at line {back}, but {_why(site)}, "
        f"so its gradient never reaches {listed(names, 8)}, which only the rest of the loss trains; {rest}.",
        _fix(site))


def _terms(ctx: Context, root: str) -> list[str]:
    """The summands of a root: below additions, subtractions, negations and scalings by a number."""
    view = ctx.view
    out, stack, seen = [], [root], set()
    while stack:
        vid = stack.pop()
        if vid in seen:
            continue
        seen.add(vid)
        inputs = view.inputs.get(vid, [])
        name = ctx.view.grad_fn(vid) or ""
        if name.startswith(_SUM_LIKE) or (name.startswith(_SCALED) and len(inputs) == 1):
            stack.extend(e.src for e in inputs)
        else:
            out.append(vid)
    return out




# -- words ----------------------------------------------------------------------------------------


def _code(site: Site) -> str:
    return {"detach": "GS203", "no_grad": "GS203", "inference": "GS203", "grad": "GS203", "library": "GS208",
            "copy": "GS209", "value": "GS209"}.get(site.cut, "GS207")


def _verb(site: Site) -> str:
    if site.cut == "library" and site.api:
        return f"{site.api}()"
    if site.op in ("Tensor.data", "Tensor.data="):
        return ".data"
    if site.cut == "no_grad":
        return "torch.no_grad()"
    return f"{site.op.strip('_') if site.op.startswith('__') else site.op}()"


def _why(site: Site) -> str:
    where = f"line {site.line}"
    if site.op == "Tensor.data=":
        return f"the assignment to .data at {where} copies the values into that tensor and drops their graph"
    if site.cut == "detach":
        return f"{_verb(site)} at {where} cuts the result from the graph"
    if site.cut == "no_grad" and site.def_line is not None:
        return (f"`{site.op}` at {where} ran with gradient tracking off: the function decorated with "
                f"@torch.no_grad() at line {site.def_line} (called at line {site.off_line})")
    if site.cut == "no_grad":
        return (f"`{site.op}` at {where} ran with gradient tracking off (torch.no_grad() / "
                f"set_grad_enabled(False) from line {site.off_line})")
    if site.cut == "inference":
        return f"`{site.op}` at {where} ran under torch.inference_mode()"
    if site.cut == "library":
        api = site.api or site.op
        twin = (f"; {api.rsplit('.', 1)[0]} has a differentiable {site.twin}()" if site.twin else "")
        verb = "draws" if "sample" in api else "computes"
        return f"{api}() at {where} {verb} its result without gradient (under the library's own torch.no_grad()){twin}"
    if site.cut == "copy":
        call = "x.new_tensor" if site.op == "new_tensor" else f"torch.{site.op}"
        return f"{call}(...) at {where} copies the values of tensors into a new tensor with no graph"
    if site.cut == "grad":
        return (f"torch.autograd.grad at {where} returned gradients without create_graph=True, which carry no "
                "graph of their own")
    if site.cut == "value":
        return f".{site.op.strip('_')}() at {where} turns the tensor into a Python number, which carries no graph"
    if site.op in _INDEX_OPS:
        return f"`{site.op}` at {where} returns integer indices, which carry no gradient"
    if site.op in _CASTS:
        return f"`{site.op}` at {where} makes integer (or rounded) values, which carry no gradient"
    return f"`{site.op}` at {where} is not differentiable (a comparison or an integer result)"


def _fix(site: Site) -> str:
    if site.op == "Tensor.data=":
        return (f"use the computed tensor itself where the forward pass needs it (e.g. F.linear(x, weight)) or "
                f"torch.nn.utils.parametrize, instead of assigning it to .data at line {site.line}")
    if site.cut == "detach":
        return f"remove the {_verb(site)} on line {site.line} where gradient should flow (keep it only for logging)"
    if site.cut == "no_grad" and site.def_line is not None:
        return f"remove the @torch.no_grad() decorator at line {site.def_line} (or keep a grad-enabled version for training)"
    if site.cut == "no_grad":
        return (f"compute it outside the torch.no_grad() started at line {site.off_line} where these "
                "tensors should train")
    if site.cut == "inference":
        return "compute it outside torch.inference_mode() where these tensors should train"
    if site.cut == "library":
        if site.twin:
            return f"use .{site.twin}() instead of .sample() (the reparameterised sample keeps the graph)"
        if site.api and "sample" in site.api:
            return ("a discrete sample has no gradient: use a score-function (REINFORCE) loss with log_prob(), or a "
                    "relaxed distribution (e.g. RelaxedOneHotCategorical) with rsample()")
        return (f"compute what the loss needs outside {site.api or 'that call'}, which runs without gradient "
                f"(line {site.line})")
    if site.cut == "grad":
        return (f"pass create_graph=True to torch.autograd.grad at line {site.line} when a loss is computed from the "
                "gradients it returns (a gradient penalty, double backward)")
    if site.cut == "copy" and site.op == "new_tensor":
        return ("to match another tensor's dtype and device, use t.to(x) (or t.to(dtype=..., device=...)), "
                "which keeps the graph, instead of x.new_tensor(t)")
    if site.cut == "copy":
        return "build it with torch.stack(...) / torch.cat(...) of the tensors instead of torch.tensor(...)"
    if site.cut == "value":
        return ("keep the computation in tensors: use the tensor itself, not .item() / .tolist() / float(); a new "
                "tensor made from a Python number (even with requires_grad=True) is a fresh leaf with no graph")
    if site.op in _INDEX_OPS:
        return ("let the scores weight the result instead of only indexing with them: soft weights "
                "(softmax over the scores), F.gumbel_softmax(logits, hard=True), a straight-through estimator "
                "(hard + soft - soft.detach()), or multiply the selected values (topk(...).values) in")
    if site.op in _CASTS:
        return "keep the value floating point where it enters the loss; cast to an integer only to index"
    return ("replace the hard decision with a soft one (torch.sigmoid((x - threshold) / temperature)) or a "
            "straight-through estimator: hard + (soft - soft.detach())")
