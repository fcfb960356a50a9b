"""`gradscope check` and the session's assertions: does gradient flow where the user says it should?

Rules name parameters by glob (fnmatch, case-sensitive, `*` crosses dots) over their full names:
- `trains P`: every match requires grad, got a gradient from a recorded backward, and sits in an
  optimizer (when the script built any);
- `frozen P`: every match does not require grad, or got no gradient and sits in no optimizer.
A pattern that matches nothing is a violation, and so are findings at or above `fail_on`.
With `nan`, a NaN/Inf that appeared in a forward value or a gradient is a violation of its own,
named by the op, line and tensor `--nan` found first (gradients a GradScaler skips excepted).

A run is summarised as `RunFacts` (pure data, JSON-able): the ranks of a distributed run exchange
those, and a parameter holds a rule only if it holds on every rank; a parameter whose facts differ
between ranks is a violation of its own (DDP's "unused parameters"). No torch here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from fnmatch import fnmatchcase

import msgspec

from gradscope.analyse.findings.context import listed
from gradscope.analyse.params import ParamStatus, param_statuses
from gradscope.capture import Capture

FAIL_ON = ("error", "warning", "info", "never")
_SEVERITY = {"error": 0, "warning": 1, "info": 2}


@dataclass
class RunFacts:
    """What the rules need from one run (one rank)."""

    script: str
    exit_code: int | None
    exception: dict | None
    stopped_after: int | None
    backward_calls: int
    optimizers: list[str]
    params: dict[str, ParamStatus]
    findings: list[dict]  # {"code", "severity", "title", "lines", "tensors", "message", "fix"}
    rank: int | None = None
    nan: dict | None = None  # with --nan: {"origins", "nonfinite", "grad_scaler"} (see `_nan_facts`)

    def to_json(self) -> dict:
        data = asdict(self)
        data["params"] = {name: p.to_json() for name, p in self.params.items()}
        return data

    @classmethod
    def from_json(cls, data: dict) -> RunFacts:
        data = dict(data)
        data["params"] = {name: ParamStatus.from_json(p) for name, p in data["params"].items()}
        return cls(**data)


def run_facts(capture: Capture, rank: int | None = None) -> RunFacts:
    from gradscope.analyse.findings import find_all
    from gradscope.analyse.findings.context import Context

    ctx = Context(capture)  # shared by the parameters' reasons and the findings
    return RunFacts(script=capture.script, exit_code=capture.exit.get("code"),
                    exception=capture.exit.get("exception"), stopped_after=capture.stopped_after,
                    backward_calls=capture.backward_calls,
                    optimizers=[f"`{o.get('name')}` ({o.get('type')})" for o in capture.optimizers],
                    params=param_statuses(capture, ctx=ctx), findings=[f.to_json() for f in find_all(capture, ctx)],
                    rank=rank,
                    nan=_nan_facts(capture))


def _nan_facts(capture: Capture) -> dict | None:
    """What `--nan` saw, as JSON-able data: the origins it found, and the parameters whose gradient
    norm was non-finite at some call (evidence even where no origin was found)."""
    health = capture.grad_health
    if health is None or not health.nan_checked:
        return None
    nonfinite = [{"name": s.name, "first": s.first_nonfinite, "count": s.nonfinite, "calls": site.calls,
                  "line": site.line} for site in health.sites for s in site.series
                 if s.of == "parameter" and s.nonfinite]
    return {"origins": [msgspec.structs.asdict(o) for o in health.nan], "nonfinite": nonfinite,
            "grad_scaler": health.grad_scaler, "backward_calls": capture.backward_calls}


@dataclass
class Failure:
    param: str
    reason: str
    lines: list[int] = field(default_factory=list)


@dataclass
class RuleResult:
    rule: str  # trains | frozen
    pattern: str
    matched: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return bool(self.matched) and not self.failures


@dataclass
class Violation:
    """One block of the report: what does not hold, why, and the lines."""

    kind: str  # trains | frozen | finding | ranks | exit
    title: str
    details: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


@dataclass
class CheckResult:
    script: str
    ranks: int
    rules: list[RuleResult]
    violations: list[Violation]
    stopped_after: int | None = None
    nan: str | None = None  # with --nan: what was checked, said when it holds ("no NaN/Inf in ...")

    @property
    def ok(self) -> bool:
        return not self.violations

    def to_json(self) -> dict:
        return {"ok": self.ok, "script": self.script, "ranks": self.ranks, "stopped_after": self.stopped_after,
                "rules": [dict(asdict(r), holds=r.holds) for r in self.rules], "nan": self.nan,
                "violations": [asdict(v) for v in self.violations]}


def check(runs: list[RunFacts], *, trains=(), frozen=(), fail_on: str = "error", nan: bool = False) -> CheckResult:
    """Evaluate the rules over one run, or over every rank of a distributed run; `nan`: also fail
    on a NaN/Inf (the runs must have been traced with `--nan`)."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on must be one of {', '.join(FAIL_ON)}")
    rules = [_rule(runs, "trains", p) for p in trains] + [_rule(runs, "frozen", p) for p in frozen]
    violations = _exit_violations(runs)
    violations += [_rule_violation(r, runs) for r in rules if not r.holds]
    violations += _rank_violations(runs)
    nan_violations, nan_note = _nan_violations(runs) if nan else ([], None)
    violations += nan_violations
    # with --nan, its own violation names the origin: GS901/GS902 would say it a second time
    violations += _finding_violations(runs, fail_on, skip=_NAN_CODES if nan else ())
    return CheckResult(script=runs[0].script, ranks=len(runs), rules=rules, violations=violations,
                       stopped_after=runs[0].stopped_after, nan=nan_note if nan and not nan_violations else None)


def check_capture(capture: Capture, *, trains=(), frozen=(), fail_on: str = "never", nan: bool = False) -> CheckResult:
    return check([run_facts(capture)], trains=trains, frozen=frozen, fail_on=fail_on, nan=nan)


# -- rules --------------------------------------------------------------------------------------


def _rule(runs: list[RunFacts], rule: str, pattern: str) -> RuleResult:
    names = [n for n in _param_names(runs) if fnmatchcase(n, pattern)]
    result = RuleResult(rule, pattern, matched=names)
    judge = _trains if rule == "trains" else _frozen
    for name in names:
        for run in runs:
            status = run.params.get(name)
            if status is None:
                failure = Failure(name, "not a parameter on this rank")
            else:
                failure = judge(status, run)
            if failure is not None:
                if len(runs) > 1:
                    failure.reason = f"on rank {run.rank}: {failure.reason}"
                result.failures.append(failure)
                break  # the first rank that breaks the rule says why
    return result


def _trains(p: ParamStatus, run: RunFacts) -> Failure | None:
    if not p.requires_grad:
        return Failure(p.name, f"frozen at line {p.frozen_line} (requires_grad = False)", _lines(p.frozen_line))
    reasons, lines = [], []
    if not p.got_grad:
        reasons.append(f"no gradient: {p.no_grad_reason or 'no recorded backward reached it'}")
        lines += _lines(p.no_grad_line)
    if run.optimizers and not p.optimizers:
        reasons.append(f"in no optimizer (the script built {', '.join(run.optimizers)})")
    return Failure(p.name, "; ".join(reasons), lines) if reasons else None


def _frozen(p: ParamStatus, run: RunFacts) -> Failure | None:
    if not p.requires_grad or (not p.got_grad and not p.optimizers):
        return None
    facts = ["requires grad"]
    if p.got_grad:
        where = f" from backward at line {', '.join(map(str, p.grad_lines))}" if p.grad_lines else ""
        facts.append(f"got a gradient{where}")
    if p.optimizers:
        facts.append(f"sits in optimizer {', '.join(f'`{o}`' for o in p.optimizers)}")
    return Failure(p.name, "trains: " + ", ".join(facts), list(p.grad_lines))


def _rule_violation(result: RuleResult, runs: list[RunFacts]) -> Violation:
    head = f"--{result.rule} {result.pattern}"
    if not result.matched:
        known = _param_names(runs)
        hint = f"parameters are named like {', '.join(known[:4])}" if known else "the script made no parameters"
        return Violation(result.rule, f"{head}: matches no parameter", [hint])
    n = len(result.failures)
    verb = {("trains", True): "does not train", ("trains", False): "do not train",
            ("frozen", True): "is not frozen", ("frozen", False): "are not frozen"}[result.rule, n == 1]
    title = f"{head}: {n} of {len(result.matched)} parameter{'s' if len(result.matched) != 1 else ''} {verb}"
    lines = _merge(line for f in result.failures for line in f.lines)
    return Violation(result.rule, title, [f"{f.param}: {f.reason}" for f in result.failures], lines)


# -- ranks, findings, the script's own exit -----------------------------------------------------------


def _rank_violations(runs: list[RunFacts]) -> list[Violation]:
    if len(runs) < 2:
        return []
    details = []
    for name in _param_names(runs):
        seen = {run.rank: _summary(run.params.get(name), run) for run in runs}
        if len(set(seen.values())) > 1:
            details.append(f"{name}: " + "; ".join(f"rank {rank}: {text}" for rank, text in seen.items()))
    if not details:
        return []
    return [Violation("ranks", f"{len(details)} parameter(s) differ between ranks (every rank must train the "
                               "same parameters; DDP fails on parameters unused on some ranks)", details)]


def _summary(p: ParamStatus | None, run: RunFacts) -> str:
    if p is None:
        return "absent"
    if not p.requires_grad:
        return "frozen"
    held = "" if p.optimizers or not run.optimizers else ", in no optimizer"
    return ("gets a gradient" if p.got_grad else "gets no gradient") + held


def _finding_violations(runs: list[RunFacts], fail_on: str, skip=()) -> list[Violation]:
    if fail_on == "never":
        return []
    limit = _SEVERITY[fail_on]
    out, seen = [], set()
    for run in runs:
        for f in run.findings:
            key = (f["code"], f["title"])
            if _SEVERITY.get(f["severity"], 3) > limit or key in seen or f["code"] in skip:
                continue
            seen.add(key)
            details = [f["message"]] + ([f"fix: {f['fix']}"] if f.get("fix") else [])
            out.append(Violation("finding", f"{f['code']} {f['severity']}: {f['title']}", details, list(f["lines"])))
    return out


# -- --nan ---------------------------------------------------------------------------------------------

_NAN_CODES = ("GS901", "GS902")


def _nan_violations(runs: list[RunFacts]) -> tuple[list[Violation], str | None]:
    """One violation per rank where a NaN/Inf appeared: the first origin in time (a forward value,
    or a gradient); else the first non-finite gradient norm. Non-finite gradients are normal under
    a GradScaler (it skips those steps): then only a forward origin fails. Also the line said when
    it holds."""
    out, skipped, calls = [], 0, 0
    for run in runs:
        facts = run.nan
        rank = f"rank {run.rank}: " if len(runs) > 1 else ""
        if facts is None:
            out.append(Violation("nan", f"{rank}--nan: NaN/Inf were not checked (the run was traced without --nan)"))
            continue
        calls = max(calls, facts.get("backward_calls", 0))
        scaler = facts.get("grad_scaler", False)
        origins = [o for o in facts["origins"] if o["phase"] == "forward" or not scaler]
        origins.sort(key=lambda o: o["call"] + (0.5 if o["phase"] == "forward" else 0.0))  # forward after call N
        if origins:
            # a backward origin after a forward one is most likely that value flowing back: not said again
            out.append(_origin_violation(origins[0], rank, [o for o in origins[1:] if o["phase"] == "forward"],
                                         run.findings))
        elif facts["nonfinite"] and not scaler:
            bad = sorted(facts["nonfinite"], key=lambda n: (n["first"] or 0, n["name"]))
            names = listed([f"`{n['name']}`" for n in bad], 3)
            first = bad[0]
            at = f" at line {first['line']}" if first["line"] is not None else ""
            out.append(Violation("nan", f"{rank}--nan: gradients of {names} became NaN/Inf at backward call "
                                        f"{first['first']}{at}",
                                 ["--nan found no op that made it (it checks each op until the first NaN/Inf; "
                                  "this one came from code it does not see, or a graph too large to hook)"],
                                 [first["line"]] if first["line"] is not None else []))
        elif facts["nonfinite"] or any(o["phase"] == "backward" for o in facts["origins"]):
            skipped += 1
    note = f"no NaN/Inf in {calls} backward call{'s' if calls != 1 else ''} and their forward passes"
    if skipped:
        note = ("no NaN/Inf in the forward passes; the non-finite gradients were unscaled by a GradScaler, "
                "which skips those steps")
    return out, note


def _origin_violation(o: dict, rank: str, later: list[dict], findings: list[dict]) -> Violation:
    value = "NaN" if o["value"] == "nan" else "Inf"
    line = f" at line {o['line']}" if o.get("line") is not None else ""
    module = f" in `{o['module']}`" if o.get("module") else ""
    if o["phase"] == "forward":
        made = f"`{o['name']}`" if o.get("name") else "its output (unnamed)"
        calls = o["call"]
        when = f"in the forward pass after {calls} backward call{'s' if calls != 1 else ''}"
        if o.get("inputs_finite", True):
            title = f"--nan: first {value} made by `{o['op']}`{line}{module}: {made} became {value} {when}"
            inputs = "from inputs without NaN but holding ±Inf" if o.get("inputs_inf") else "from finite inputs"
            details = [f"{inputs}: {'; '.join(o['inputs']) or 'no tensor inputs'}"]
        else:
            title = (f"--nan: first {value} seen at `{o['op']}`{line}{module}: {made} became {value} {when}, "
                     "from an input that was already non-finite")
            details = [f"inputs: {'; '.join(o['inputs'])}; it came from outside the ops gradscope sees (the data, "
                       "numpy, a file): check the data with torch.isfinite(x).all()"]
    else:
        made = f" → `{o['name']}`" if o.get("name") else ""
        title = (f"--nan: first {value} gradient made by `{o['op']}`{line}{module} (the backward of "
                 f"{_forward_op(o)}{made}) in backward call {o['call']}, from a finite incoming gradient")
        details = ["the derivative of that op is infinite at the values the forward pass gave it (sqrt or pow at "
                   "0, log at 0, a division by a tiny number)"]
    fix = next((f.get("fix") for f in findings if f["code"] == "GS901" and f"`{o['op']}`" in f["title"]), None)
    if fix:
        details.append(f"fix: {fix}")
    for other in later:
        where = f" at line {other['line']}" if other.get("line") is not None else ""
        details.append(f"also: the first non-finite {'gradient' if other['phase'] == 'backward' else 'forward value'} "
                       f"made by `{other['op']}`{where} ({other['phase']}, call {other['call']})")
    return Violation("nan", rank + title, details, [o["line"]] if o.get("line") is not None else [])


def _forward_op(o: dict) -> str:
    made = next((i for i in o.get("inputs", ()) if i.startswith("made by `")), None)
    return made[len("made by "):].split(" in the forward")[0] if made else "an op"


def _exit_violations(runs: list[RunFacts]) -> list[Violation]:
    out = []
    for run in runs:
        if run.exit_code in (0, None):
            continue
        exc = run.exception or {}
        rank = f"rank {run.rank}: " if len(runs) > 1 else ""
        why = f": raised {exc.get('type')}" + (f" at line {exc['line']}" if exc.get("line") else "") if exc else ""
        out.append(Violation("exit", f"{rank}the script exited with code {run.exit_code}{why}",
                             [exc["message"]] if exc.get("message") else [], _lines(exc.get("line"))))
    return out


def _param_names(runs: list[RunFacts]) -> list[str]:
    """Every rank's parameter names, in the order the model made them."""
    return list(dict.fromkeys(n for run in runs for n in run.params))


def _lines(line) -> list[int]:
    return [line] if line is not None else []


def _merge(lines) -> list[int]:
    out = []
    for line in lines:
        if line not in out:
            out.append(line)
    return out
