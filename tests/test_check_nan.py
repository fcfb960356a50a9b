"""`gradscope check --nan`: fails with one line naming the op, line and tensor that made the first
NaN/Inf, and passes on healthy training; judged against what torch itself saw in the same run
(the script checks `torch.isfinite` on its values and gradients and writes it down)."""

from __future__ import annotations

import json

from conftest import SCRIPTS, run_gradscope

from gradscope.analyse.check import RunFacts, check
from gradscope.render.check import render_text

SCRIPT = SCRIPTS / "health_nan_check.py"
DIV_LINE = next(i for i, text in enumerate(SCRIPT.read_text().splitlines(), 1) if "xn = x / x.norm(" in text)


def _run(tmp_path, *extra):
    facts, out = tmp_path / "torch.json", tmp_path / "check.json"
    proc = run_gradscope("check", "--nan", "--json", out, *extra, SCRIPT, facts)
    torch_says = json.loads(facts.read_text())
    return proc, json.loads(out.read_text()), torch_says


def test_nan_fails_naming_the_op_line_and_tensor(tmp_path):
    proc, result, torch_says = _run(tmp_path)
    first_bad = torch_says["forward_finite"].index(False)  # the step whose `xn` torch found non-finite
    assert first_bad == 7 and torch_says["grads_finite"][first_bad:] == [False] * (12 - first_bad)
    assert all(torch_says["grads_finite"][:first_bad])
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0] == "gradscope check health_nan_check.py · 1 rule · 1 violation"
    # one line: op, line, tensor, and when (backward calls before it = earlier steps)
    assert lines[1] == (f"✗ --nan: first NaN made by `div` at line {DIV_LINE}: `xn` became NaN in the forward "
                        f"pass after {first_bad} backward calls  (line {DIV_LINE})")
    assert "from finite inputs: x: [16, 4] float32" in lines[2] and "min 0, max" in proc.stderr
    assert "fix: keep the divisor away from 0" in proc.stderr
    assert "GS901" not in proc.stderr and "GS902" not in proc.stderr  # said once, by --nan
    (violation,) = result["violations"]
    assert result["ok"] is False and violation["kind"] == "nan" and violation["lines"] == [DIV_LINE]


def test_healthy_run_passes(tmp_path):
    facts, out = tmp_path / "healthy.json", tmp_path / "healthy_check.json"
    proc = run_gradscope("check", "--nan", "--json", out, SCRIPT, facts, "--healthy")
    torch_says = json.loads(facts.read_text())
    assert all(torch_says["forward_finite"]) and all(torch_says["grads_finite"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == ["gradscope check health_nan_check.py · 1 rule · everything holds",
                                        "✓ --nan: no NaN/Inf in 12 backward calls and their forward passes"]
    assert json.loads(out.read_text())["nan"] == "no NaN/Inf in 12 backward calls and their forward passes"


def test_without_nan_check_leaves_nan_to_the_findings(tmp_path):
    proc = run_gradscope("check", "--fail-on", "never", SCRIPT, tmp_path / "facts.json")
    assert proc.returncode == 0, proc.stderr  # --nan was not asked for, and no finding may fail it


def _facts(origins=(), nonfinite=(), scaler=False, findings=()) -> RunFacts:
    return RunFacts(script="t.py", exit_code=0, exception=None, stopped_after=None, backward_calls=20,
                    optimizers=[], params={}, findings=list(findings),
                    nan={"origins": list(origins), "nonfinite": list(nonfinite), "grad_scaler": scaler,
                         "backward_calls": 20})


BACKWARD = {"phase": "backward", "value": "inf", "op": "SqrtBackward0", "line": 6, "module": None, "call": 3,
            "name": "dist", "inputs": ["made by `sqrt` in the forward pass"], "inputs_finite": True}
FORWARD = {"phase": "forward", "value": "nan", "op": "log", "line": 9, "module": "enc", "call": 4, "name": None,
           "inputs": ["x: [3] float32, min -1, max 2"], "inputs_finite": True}


def test_the_first_origin_in_time_is_the_line_and_a_later_forward_one_is_mentioned():
    result = check([_facts([FORWARD, BACKWARD])], nan=True, fail_on="never")
    (v,) = result.violations
    assert v.title == ("--nan: first Inf gradient made by `SqrtBackward0` at line 6 (the backward of `sqrt` → "
                       "`dist`) in backward call 3, from a finite incoming gradient")
    assert any("made by `log` at line 9 (forward, call 4)" in d for d in v.details)
    # a forward origin after call 2 came before backward call 3
    (v,) = check([_facts([dict(FORWARD, call=2), BACKWARD])], nan=True).violations
    assert v.title.startswith("--nan: first NaN made by `log` at line 9 in `enc`: its output (unnamed) became NaN")
    assert not any("SqrtBackward0" in d for d in v.details)  # its own NaN flowing back


def test_gradients_a_grad_scaler_skips_pass_but_a_forward_nan_does_not():
    nonfinite = [{"name": "w", "first": 1, "count": 2, "calls": 20, "line": 7}]
    result = check([_facts([BACKWARD], nonfinite, scaler=True)], nan=True)
    assert result.ok and "GradScaler" in result.nan
    assert "✓ --nan: no NaN/Inf in the forward passes" in render_text(result)
    assert not check([_facts([FORWARD], nonfinite, scaler=True)], nan=True).ok
    # no origin found, yet the norms saw non-finite gradients: still a failure, said as such
    (v,) = check([_facts([], nonfinite)], nan=True).violations
    assert v.title == "--nan: gradients of `w` became NaN/Inf at backward call 1 at line 7" and v.lines == [7]


def test_nan_findings_are_not_repeated_as_finding_violations():
    gs901 = {"code": "GS901", "severity": "error", "title": "first NaN made by `log` at line 9", "lines": [9],
             "tensors": [], "message": "m", "fix": "clamp it"}
    result = check([_facts([FORWARD], findings=[gs901])], nan=True)
    assert [v.kind for v in result.violations] == ["nan"] and "fix: clamp it" in result.violations[0].details
    assert [v.kind for v in check([_facts([FORWARD], findings=[gs901])]).violations] == ["finding"]
    # a run traced without --nan cannot pass --nan
    (v,) = check([RunFacts("t.py", 0, None, None, 1, [], {}, [])], nan=True).violations
    assert "traced without --nan" in v.title
