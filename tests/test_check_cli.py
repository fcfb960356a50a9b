"""`gradscope check` end to end on a realistic training script (samples/ci/train.py), its verdicts
compared with what PyTorch itself reports after the same run (tests/oracle.py)."""

from __future__ import annotations

import json

from conftest import ROOT, SAMPLES, run_gradscope, run_python

SCRIPT = SAMPLES / "ci" / "train.py"
RULES = ["--trains", "model.blocks.*", "--trains", "model.head.*", "--frozen", "model.stem.*"]


def _line(text: str) -> int:
    return next(i for i, line in enumerate(SCRIPT.read_text().splitlines(), 1) if text in line)


def test_intended_flow_holds():
    proc = run_gradscope("check", *RULES, SCRIPT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("loss") == 3  # the script's own output, untouched
    assert proc.stderr.splitlines() == ["gradscope check train.py · 3 rules · everything holds",
                                        "✓ --trains model.blocks.*: 8 parameters",
                                        "✓ --trains model.head.*: 2 parameters",
                                        "✓ --frozen model.stem.*: 4 parameters"]


def test_broken_flow_fails_with_reasons_and_agrees_with_pytorch(tmp_path):
    args = ["--detach-features", "--head-lr", "0"]
    oracle = tmp_path / "oracle.json"
    run_python(ROOT / "tests" / "oracle.py", SCRIPT, oracle, *args, cwd=ROOT)
    torch_says = json.loads(oracle.read_text())
    held = {name for names in torch_says["optimizers"].values() for name in names}
    params = torch_says["params"]
    trains = {n for n, p in params.items() if p["requires_grad"] and not p["grad_is_none"] and n in held}
    frozen = {n for n, p in params.items() if not p["requires_grad"] or (p["grad_is_none"] and n not in held)}

    out = tmp_path / "check.json"
    proc = run_gradscope("check", "--trains", "*", "--frozen", "*", "--fail-on", "warning", "--json", out,
                         SCRIPT, *args)
    assert proc.returncode == 1, proc.stderr
    result = json.loads(out.read_text())
    assert result["ok"] is False
    by_rule = {r["rule"]: r for r in result["rules"]}
    assert set(by_rule["trains"]["matched"]) == set(params)
    assert {f["param"] for f in by_rule["trains"]["failures"]} == set(params) - trains
    assert {f["param"] for f in by_rule["frozen"]["failures"]} == set(params) - frozen

    reasons = {f["param"]: f["reason"] for f in by_rule["trains"]["failures"]}
    assert reasons["model.stem.0.weight"] == f"frozen at line {_line('p.requires_grad = False')} (requires_grad = False)"
    assert reasons["model.blocks.1.conv2.bias"] == (f"no gradient: detach() at line "
                                                    f"{_line('features = features.detach()')} cuts the result from the graph")
    assert reasons["model.head.weight"] == "in no optimizer (the script built `optimizer` (SGD))"
    # the same blocks on the terminal; the held-by-optimizer detach is a warning finding
    assert f"✗ --trains *: 14 of 14 parameters do not train  (lines {_line('p.requires_grad = False')}, {_line('features = features.detach()')})" in proc.stderr
    assert any(v["kind"] == "finding" and v["title"].startswith("GS203 warning") for v in result["violations"])


def test_bad_fail_on_is_one_line():
    proc = run_gradscope("check", "--fail-on", "sometimes", SCRIPT)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("gradscope: error: --fail-on sometimes: choose one of error, warning, info, never")
