"""The rules of `gradscope check`, on hand-built captures (no torch): which parameters a pattern
matches, when `trains` and `frozen` hold, ranks, findings and the script's exit."""

from __future__ import annotations

import json

import pytest

from gradscope.analyse.check import RunFacts, check, check_capture, run_facts
from gradscope.capture import Capture, EdgeInfo, RootInfo, TensorInfo
from gradscope.render.check import render_text


def _param(tid, name, *, rg=True, got=True, line=None):
    return TensorInfo(id=tid, param_name=name, is_parameter=True, requires_grad=rg,
                      kind="parameter" if rg else "frozen", grads=[got if rg else None],
                      grad_is_none=not got, line=line or 10 + tid)


def _capture(*params, optimizer=(), extra=(), edges=()):
    loss = TensorInfo(id=99, name="loss", kind="nonleaf", requires_grad=True, is_leaf=False, grad_fn="SumBackward0",
                      line=30)
    return Capture(script="/x/train.py", tensors=[*params, *extra, loss], edges=list(edges),
                   roots=[RootInfo(tensor=99, line=31, step=1)], backward_calls=1,
                   optimizers=[{"name": "opt", "type": "SGD", "params": list(optimizer)}] if optimizer else [])


def _only(result, kind):
    return [v for v in result.violations if v.kind == kind]


def test_glob_crosses_dots_is_case_sensitive_and_skips_buffers():
    buffer = TensorInfo(id=5, name="model.bn.running_mean", kind="constant")
    cap = _capture(_param(0, "model.stem.0.weight"), _param(1, "model.blocks.0.conv1.weight"),
                   _param(2, "Model.head.weight"), extra=[buffer])
    result = check_capture(cap, trains=["model.*", "model.blocks.*.conv1.weight", "*running_mean"])
    assert [r.matched for r in result.rules] == [["model.stem.0.weight", "model.blocks.0.conv1.weight"],
                                                 ["model.blocks.0.conv1.weight"], []]
    [unmatched] = _only(result, "trains")
    assert unmatched.title == "--trains *running_mean: matches no parameter"
    assert not result.ok


def test_trains_needs_requires_grad_a_gradient_and_an_optimizer_when_there_is_one():
    cap = _capture(_param(0, "a"), _param(1, "frozen", rg=False), _param(2, "idle", got=False),
                   _param(3, "outside"), optimizer=[0, 1, 2])
    result = check_capture(cap, trains=["*"])
    [rule] = result.rules
    assert [f.param for f in rule.failures] == ["frozen", "idle", "outside"]
    reasons = {f.param: f.reason for f in rule.failures}
    assert reasons["frozen"] == "frozen at line 11 (requires_grad = False)"
    assert reasons["idle"].startswith("no gradient: ")
    assert reasons["outside"] == "in no optimizer (the script built `opt` (SGD))"
    # without any optimizer in the script, a parameter that gets a gradient trains
    assert check_capture(_capture(_param(0, "a")), trains=["a"]).ok


def test_frozen_holds_without_requires_grad_or_without_gradient_and_optimizer():
    cap = _capture(_param(0, "off", rg=False), _param(1, "idle", got=False), _param(2, "held", got=False),
                   _param(3, "trained"), optimizer=[2])
    rule = check_capture(cap, frozen=["*"]).rules[0]
    assert {f.param: f.reason for f in rule.failures} == {
        "held": "trains: requires grad, sits in optimizer `opt`",
        "trained": "trains: requires grad, got a gradient from backward at line 31"}


def test_no_gradient_reason_comes_from_the_cut():
    w = _param(0, "enc.weight", got=False)
    feats = TensorInfo(id=1, name="feats", kind="detached", cut_op="detach", cut_line=37, line=37)
    edges = [EdgeInfo("t0", "t1", flows_grad=False, reason="detach() · line 37", cut="detached", line=37),
             EdgeInfo("t1", "t99", flows_grad=False, reason="detach() · line 37", cut="detached", line=37)]
    cap = _capture(w, extra=[feats], edges=edges)
    [failure] = check_capture(cap, trains=["enc.*"]).rules[0].failures
    assert failure.reason == "no gradient: detached (detach() · line 37)" and failure.lines == [37]


def _facts(rank, **params):
    from gradscope.analyse.params import ParamStatus

    return RunFacts(script="t.py", exit_code=0, exception=None, stopped_after=None, backward_calls=1,
                    optimizers=[], findings=[], rank=rank,
                    params={n: ParamStatus(n, requires_grad=True, got_grad=g, grad_lines=[5] if g else [],
                                           no_grad_reason=None if g else "module `aux` (Linear) is never called")
                            for n, g in params.items()})


def test_ranks_a_parameter_trains_only_if_it_trains_on_every_rank_and_differences_are_violations():
    runs = [_facts(0, w=True, aux=False), _facts(1, w=True, aux=True)]
    result = check(runs, trains=["w", "aux"])
    assert [r.holds for r in result.rules] == [True, False]
    assert result.rules[1].failures[0].reason.startswith("on rank 0: no gradient: module `aux`")
    [ranks] = _only(result, "ranks")
    assert ranks.details == ["aux: rank 0: gets no gradient; rank 1: gets a gradient"]
    # the facts travel between ranks as JSON
    assert check([RunFacts.from_json(json.loads(json.dumps(r.to_json()))) for r in runs],
                 trains=["w", "aux"]).to_json() == result.to_json()


@pytest.mark.parametrize("fail_on, codes", [("never", []), ("error", ["GS101"]), ("warning", ["GS101", "GS203"]),
                                            ("info", ["GS101", "GS203", "GS205"])])
def test_fail_on_counts_findings_at_or_above_the_severity(fail_on, codes):
    run = _facts(None, w=True)
    run.findings = [{"code": c, "severity": s, "title": f"{c} title", "lines": [3], "tensors": [], "message": "m",
                     "fix": ""} for c, s in (("GS101", "error"), ("GS203", "warning"), ("GS205", "info"))]
    result = check([run], fail_on=fail_on)
    assert [v.title.split()[0] for v in _only(result, "finding")] == codes
    assert result.ok is (not codes)


def test_a_script_that_failed_is_a_violation():
    cap = _capture(_param(0, "w"))
    cap.exit = {"code": 1, "exception": {"type": "RuntimeError", "message": "boom", "line": 7, "file": "t.py"}}
    [v] = check_capture(cap, trains=["w"]).violations
    assert v.title == "the script exited with code 1: raised RuntimeError at line 7" and v.lines == [7]


def test_report_text_one_line_per_rule_held_one_block_per_violation():
    cap = _capture(_param(0, "model.head.weight"), _param(1, "model.stem.weight", rg=False, line=44))
    result = check([run_facts(cap)], trains=["model.*"], frozen=["model.stem.*"], fail_on="never")
    assert render_text(result) == (
        "gradscope check train.py · 2 rules · 1 violation\n"
        "✓ --frozen model.stem.*: 1 parameter\n"
        "✗ --trains model.*: 1 of 2 parameters does not train  (line 44)\n"
        "    model.stem.weight: frozen at line 44 (requires_grad = False)\n")
