"""`gradscope explain` and the Findings section of `trace`, as a user runs them (subprocesses), and
the `--tensor` account rendered in-process."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from conftest import SAMPLES, run_gradscope, run_python
from gradscope.analyse.findings import explain_tensor, find_all
from gradscope.api import trace_target
from gradscope.render.findings import findings_json, print_explanation
from gradscope.runner import resolve_script


def test_explain_script_prints_findings_writes_json_and_keeps_the_exit_code(tmp_path):
    out = tmp_path / "f.json"
    script = SAMPLES / "findings" / "gs501_inplace_saved.py"
    proc = run_gradscope("explain", "--json", out, "--tensor", "gate", script)
    assert proc.returncode == 1  # the script's own error, as python gives it
    assert "modified by an inplace operation" in proc.stderr  # the user's traceback is still shown
    assert "GS501 error" in proc.stderr and "Tensor gate" in proc.stderr
    data = json.loads(out.read_text())
    (finding,) = data["findings"]
    assert set(finding) == {"code", "severity", "title", "lines", "tensors", "message", "fix"}
    assert finding["code"] == "GS501" and finding["severity"] == "error"
    source = script.read_text().splitlines()
    assert "gate.mul_(0.5)" in source[finding["lines"][0] - 1]


def test_trace_section_saved_capture_and_no_findings(tmp_path):
    script = SAMPLES / "findings" / "gs203_detached_features.py"
    capture = tmp_path / "c.json"
    proc = run_gradscope("trace", "--json", capture, script)
    assert proc.returncode == 0, proc.stderr
    assert "Findings" in proc.stderr and "GS203 warning" in proc.stderr
    out = tmp_path / "f.json"
    proc = run_gradscope("explain", "--json", out, capture)
    assert proc.returncode == 0, proc.stderr
    assert [f["code"] for f in json.loads(out.read_text())["findings"]] == ["GS203"]
    proc = run_gradscope("trace", "--no-findings", script)
    assert proc.returncode == 0 and "Findings" not in proc.stderr and "GS203" not in proc.stderr


def test_json_is_an_empty_list_when_there_is_nothing_to_say():
    capture = trace_target(resolve_script(str(SAMPLES / "training_loop.py")), []).capture
    assert findings_json(find_all(capture)) == {"findings": []}


def test_explain_tensor_lists_paths_and_cuts():
    capture = trace_target(resolve_script(str(SAMPLES / "detach.py")), []).capture
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, no_color=True)
    for name in ("x", "y", "nope"):
        print_explanation(explain_tensor(capture, name), console)
    text = buffer.getvalue()
    x_part = text[text.index("Tensor x"):text.index("Tensor y")]
    assert "cut" in x_part and "detach() · line 13" in x_part
    y_part = text[text.index("Tensor y"):text.index("Tensor nope")]
    assert "flows" in y_part and "cut " not in y_part
    assert "no tensor named 'nope'" in text


def test_zero_grad_between_backward_and_step_is_found_with_gradient_norms_off(tmp_path):
    """GS806 watches the order of zero_grad(), backward() and step(), not the norms."""
    script = Path(__file__).parent / "diagnosis" / "buggy" / "zero_grad_after_backward.py"
    plain = run_python(script)
    losses = {line.split()[1] for line in plain.stdout.splitlines()}
    assert plain.returncode == 0 and len(losses) == 1  # torch: the model never changes
    out = tmp_path / "f.json"
    proc = run_gradscope("explain", "--no-grad-norms", "--json", out, script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == plain.stdout
    (finding,) = [f for f in json.loads(out.read_text())["findings"] if f["code"] == "GS806"]
    culprit = next(i for i, text in enumerate(script.read_text().splitlines(), 1) if text.endswith("# CULPRIT"))
    assert finding["lines"][0] == culprit


def test_a_target_copied_with_clone_is_cited_where_it_was_copied(tmp_path):
    """BYOL's target weights made with `p.clone()`: torch keeps the copy in the graph (the target
    requires grad), and GS701 cites the clone line first, naming the parameters copied."""
    script = Path(__file__).parent / "diagnosis" / "buggy" / "byol_target_clone.py"
    plain = run_python(script)
    assert plain.returncode == 0 and "target requires grad: True" in plain.stdout
    out = tmp_path / "f.json"
    proc = run_gradscope("explain", "--json", out, script)
    assert proc.returncode == 0 and proc.stdout == plain.stdout, proc.stderr
    (finding,) = [f for f in json.loads(out.read_text())["findings"] if f["code"] == "GS701"]
    culprit = next(i for i, text in enumerate(script.read_text().splitlines(), 1) if text.endswith("# CULPRIT"))
    assert finding["lines"][0] == culprit and "clone()" in finding["title"]
    assert {"online.0.weight", "online.2.bias"} <= set(finding["tensors"])


@pytest.mark.parametrize("case", ["param", "normaliser"])
def test_a_number_read_from_a_tensor_and_fed_back_into_the_loss_is_cited(tmp_path, case):
    """`loss + float(log_var)`: torch's gradient for log_var lacks that term's 1 (it is a constant to
    autograd); GS209 cites the read's line, a warning for a parameter, info for a result read out to
    normalise by (`mse / mse.item()`), which may be intended."""
    script = Path(__file__).parent / "scripts" / "value_fed_back.py"
    plain = run_python(script, case)
    assert plain.returncode == 0, plain.stderr
    got, with_tensor = plain.stdout.split()
    if case == "param":
        assert float(got) == pytest.approx(float(with_tensor) - 1.0, abs=1e-6)
    out = tmp_path / "f.json"
    proc = run_gradscope("explain", "--json", out, script, case)
    assert proc.returncode == 0 and proc.stdout == plain.stdout, proc.stderr
    (finding,) = [f for f in json.loads(out.read_text())["findings"] if f["code"] == "GS209"]
    marker = "float(log_var)" if case == "param" else "mse.item()"
    line = next(i for i, text in enumerate(script.read_text().splitlines(), 1) if marker in text)
    assert finding["lines"] == [line] and marker in finding["title"]
    assert finding["severity"] == ("warning" if case == "param" else "info")


def test_a_logging_snapshot_is_not_blamed_for_a_no_grad_backbone(tmp_path):
    """Every path from the backbone to the loss stops under the no_grad line; a .detach().clone()
    snapshot of a backbone weight also reaches those parameters but feeds no loss, and is not cited
    (it was, first, with its own fix). torch: the backbone never moves."""
    script = Path(__file__).parent / "diagnosis" / "buggy" / "no_grad_backbone_with_snapshot.py"
    plain = run_python(script)
    assert plain.returncode == 0 and "backbone moved: False" in plain.stdout
    out = tmp_path / "f.json"
    proc = run_gradscope("explain", "--json", out, script)
    assert proc.returncode == 0, proc.stderr
    culprit = next(i for i, text in enumerate(script.read_text().splitlines(), 1) if text.endswith("# CULPRIT"))
    snapshot = next(i for i, text in enumerate(script.read_text().splitlines(), 1) if ".detach().clone()" in text)
    found = [f for f in json.loads(out.read_text())["findings"] if f["severity"] in ("error", "warning")]
    assert found and all(f["lines"][0] == culprit and snapshot not in f["lines"] for f in found), found


def test_a_set_grad_enabled_block_entered_with_false_is_not_called_a_global_switch(tmp_path):
    """`with torch.set_grad_enabled(phase == "training")` where the phase is "train": the block is
    scoped; its argument was False. torch raises at backward."""
    script = Path(__file__).parent / "diagnosis" / "buggy" / "set_grad_enabled_wrong_phase.py"
    out = tmp_path / "f.json"
    proc = run_gradscope("explain", "--json", out, script)
    assert proc.returncode == 1 and "does not require grad and does not have a grad_fn" in proc.stderr
    (finding,) = [f for f in json.loads(out.read_text())["findings"] if f["code"] == "GS101"]
    culprit = next(i for i, text in enumerate(script.read_text().splitlines(), 1) if text.endswith("# CULPRIT"))
    assert finding["lines"][0] == culprit
    assert "entered with a false argument" in finding["message"] and "whole program" not in finding["message"]
