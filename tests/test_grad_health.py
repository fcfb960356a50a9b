"""Gradient-health findings (GS901-GS905, GS803) on scripts that have the problem, and silence on
healthy training: LoRA with B at zero, tied weights, gradient accumulation, clipping."""

from __future__ import annotations

import pytest

from conftest import SAMPLES, SCRIPTS

HEALTH_CODES = {"GS901", "GS902", "GS903", "GS904", "GS905", "GS906", "GS803"}


def _line_of(script, text: str) -> int:
    return next(i for i, line in enumerate(script.read_text().splitlines(), 1) if text in line)


def _findings(script, **health):
    from gradscope.analyse.findings import find_all
    from gradscope.api import trace_target
    from gradscope.runner import resolve_script

    result = trace_target(resolve_script(str(script)), [], health=health or None)
    return result.capture, find_all(result.capture)


def _only(found, code):
    hits = [f for f in found if f.code == code]
    assert len(hits) == 1, [(f.code, f.title) for f in found]
    return hits[0]


def test_vanishing_deep_sigmoid_mlp(capsys):
    script = SCRIPTS / "health_vanishing_mlp.py"
    capture, found = _findings(script)
    f = _only(found, "GS903")
    assert f.severity == "warning"
    assert "model.0" in f.tensors and "model.32" not in f.tensors  # the first layers, not the last
    assert f.lines[0] == _line_of(script, "nn.Linear(32, 32)")
    assert not {"GS902", "GS904", "GS905"} & {x.code for x in found}


def test_exploding_rnn(capsys):
    script = SCRIPTS / "health_exploding_rnn.py"
    capture, found = _findings(script)
    f = _only(found, "GS904")
    assert f.severity == "warning" and f.tensors[0] == "rnn"
    assert f.lines[0] == _line_of(script, "rnn = nn.RNN(")
    assert "clip_grad_norm_" in f.fix
    model = next(s for s in capture.grad_health.sites[0].series if s.of == "model")
    assert model.max / model.first >= 100  # what the finding claims, in the recorded numbers


def test_nan_at_a_later_step(capsys):
    script = SCRIPTS / "health_nan_log.py"
    _, found = _findings(script)
    f = _only(found, "GS902")
    assert f.severity == "error" and f.tensors == ["w"] and "--nan" in f.message
    _, found = _findings(script, nan=True)
    origin = _only(found, "GS901")  # the backward Inf that follows from it is not a second origin
    assert origin.severity == "error" and origin.lines == [_line_of(script, "torch.log(")]
    assert "`log`" in origin.title and "clamp" in origin.fix and "log_softmax" in origin.fix


def test_backward_only_origin_sqrt_at_zero(capsys):
    script = SCRIPTS / "health_sqrt_zero.py"
    capture, found = _findings(script, nan=True)
    assert [o.phase for o in capture.grad_health.nan] == ["backward"]  # the forward pass stayed finite
    origin = _only(found, "GS901")
    assert origin.lines == [_line_of(script, "torch.sqrt(")] and "SqrtBackward0" in origin.title


def test_all_zero_gradients_of_a_dead_layer(capsys):
    script = SCRIPTS / "health_all_zero.py"
    _, found = _findings(script)
    f = _only(found, "GS905")
    assert f.tensors == ["model.0"] and f.lines[0] == _line_of(script, "model = nn.Sequential(")


def test_dead_units_are_the_rows_torch_left_at_zero(tmp_path):
    """The script notes which rows of each Linear weight had an exactly-zero .grad after every backward
    call; the capture and GS906 name the same rows, and only those."""
    import json

    from conftest import run_gradscope
    from gradscope.capture import Capture

    script = SCRIPTS / "health_dead_units.py"
    facts, out = tmp_path / "torch.json", tmp_path / "cap.json"
    proc = run_gradscope("trace", "--quiet", "--json", out, script, facts)
    assert proc.returncode == 0, proc.stderr
    torch_says = {f"model.{name}": rows for name, rows in json.loads(facts.read_text()).items()}
    assert torch_says == {"model.0.weight": [3, 7, 11], "model.2.weight": [], "model.4.weight": []}
    capture = Capture.loads(out.read_text())
    (site,) = capture.grad_health.sites
    weights = {s.name: s for s in site.series if s.of == "parameter" and s.rows is not None}
    assert {name: s.dead_rows_at for name, s in weights.items()} == torch_says
    assert {name: (s.rows, s.dead_rows) for name, s in weights.items()} == \
        {"model.0.weight": (16, 3), "model.2.weight": (4, 0), "model.4.weight": (1, 0)}
    assert all(s.rows is None for s in site.series if s.of == "parameter" and s.name.endswith(".bias"))
    from gradscope.analyse.findings import find_all

    found = find_all(capture)
    f = _only(found, "GS906")
    assert f.severity == "info" and f.tensors == ["model.0.weight"]  # 3 of 16: most units still learn
    assert f.title == "3 of 16 units of `model.0` got zero gradient at every call"
    assert "rows 3, 7, 11 of `model.0.weight`" in f.message and "15 backward calls" in f.message
    assert f.lines == [_line_of(script, "model = nn.Sequential("), _line_of(script, "loss.backward()")]
    assert not HEALTH_CODES - {"GS906"} & {x.code for x in found}, [(x.code, x.title) for x in found]


def test_dead_units_severity_and_bounds():
    from gradscope.analyse.findings import find_all
    from gradscope.capture import Capture, GradHealth, NormSeries, NormSite

    def capture(rows, dead, calls=12):
        w = NormSeries(of="parameter", name="enc.fc.weight", first=1.0, last=1.0, min=1.0, max=1.0, median=1.0,
                       calls=calls, series_calls=list(range(1, calls + 1)), series=[1.0] * calls, rows=rows,
                       dead_rows=dead, dead_rows_at=list(range(min(dead, 32))))
        return Capture(grad_health=GradHealth(norms=True, sites=[NormSite(line=9, calls=calls, series=[w])]))

    assert _only(find_all(capture(64, 40)), "GS906").severity == "warning"  # most units dead
    assert "rows 0, 1, 2, 3, 4, 5, 6, 7, … of" in _only(find_all(capture(64, 40)), "GS906").message
    assert not {f.code for f in find_all(capture(64, 64))} & {"GS906"}  # every unit: not "some units" (GS905's)
    assert not {f.code for f in find_all(capture(64, 20, calls=9))} & {"GS906"}  # too few calls to say
    assert not {f.code for f in find_all(capture(64, 3))} & {"GS906"}  # a few dead ReLUs are normal


def test_lr_zero_extends_the_optimizer_audit(capsys):
    script = SCRIPTS / "health_lr_zero.py"
    _, found = _findings(script)
    f = _only(found, "GS803")
    assert f.severity == "warning" and sorted(f.tensors) == ["body.bias", "body.weight"]
    assert "learning rate is 0" in f.message


@pytest.mark.parametrize("script", [SCRIPTS / "health_healthy_lora.py", SCRIPTS / "health_healthy_tied.py",
                                    SCRIPTS / "health_norms_oracle.py", SAMPLES / "training_loop.py"],
                         ids=lambda p: p.stem)
def test_healthy_training_is_silent(script, capsys):
    capture, found = _findings(script, nan=True)
    assert capture.grad_health.sites and capture.grad_health.nan == []
    assert not HEALTH_CODES & {f.code for f in found}, [(f.code, f.title) for f in found]


def test_no_finding_before_ten_calls():
    from gradscope.analyse.findings import find_all
    from gradscope.capture import Capture, GradHealth, NormSeries, NormSite

    dead = NormSeries(of="module", name="m", first=0.0, last=0.0, min=0.0, max=0.0, median=0.0, calls=9,
                      zeros=9, nonfinite=0, series_calls=list(range(1, 10)), series=[0.0] * 9)
    site = NormSite(file="t.py", line=3, calls=9, series=[dead])
    capture = Capture(grad_health=GradHealth(norms=True, sites=[site]))
    assert not HEALTH_CODES & {f.code for f in find_all(capture)}
