"""The autograd error catalogue (GS101-GS106, GS501, GS601) on the corpus scripts that raise.

Each script is traced in-process (gradscope's finding) and run plainly (PyTorch's facts): the
script must raise the same exception at the same line under both, and the finding of the expected
code must cite the line that CAUSED it, the one marked `# CULPRIT`, which is often not the line
that raised. The corpus harness (test_diagnosis_corpus.py) runs the same scripts as a user would.
"""

from __future__ import annotations

import json
import runpy
import traceback
from pathlib import Path

import pytest
import torch

from conftest import SCRIPTS, run_gradscope, run_python, trace_json
from gradscope.analyse.findings import find_all
from gradscope.api import trace_target
from gradscope.capture import Capture
from gradscope.runner import resolve_script

BUGGY = Path(__file__).resolve().parent / "diagnosis" / "buggy"

# script -> the code of the error finding that must cite its culprit line
EXPECTED = {
    "eval_leaves_grad_disabled.py": "GS101",
    "dice_scores_as_tensor.py": "GS101",
    "ranking_scores_tolist.py": "GS101",
    "numpy_focal_loss.py": "GS101",
    "loss_sum_via_item.py": "GS101",
    "detached_logits_for_loss.py": "GS101",
    "freeze_loop_freezes_head.py": "GS101",
    "multitask_two_backward_calls.py": "GS102",
    "rnn_hidden_not_detached.py": "GS102",
    "gan_discriminator_step_no_detach.py": "GS102",
    "manual_sgd_update_in_place.py": "GS103",
    "prune_rows_in_place.py": "GS103",
    "per_pixel_loss_backward.py": "GS104",
    "custom_function_missing_grad.py": "GS105",
    "custom_function_weight_grad_transposed.py": "GS105",
    "accuracy_numpy_on_logits.py": "GS106",
    "ddp_unused_branch.py": "GS107",
    "softmax_normalised_in_place.py": "GS501",
    "cached_features_inference_mode.py": "GS601",
}


@pytest.fixture(autouse=True)
def grad_mode_restored():
    """Some scripts leave grad mode off (their bug): the next run in this process starts as python's would."""
    yield
    torch.set_grad_enabled(True)


def _culprit(path: Path) -> int:
    lines = [i for i, text in enumerate(path.read_text().splitlines(), 1) if text.rstrip().endswith("# CULPRIT")]
    assert len(lines) == 1
    return lines[0]


def _plain_error(path: Path) -> tuple[BaseException, int]:
    """What PyTorch raised when the script ran without gradscope, and at which line of the script."""
    try:
        runpy.run_path(str(path), run_name="__main__")
    except Exception as exc:  # noqa: BLE001 - the script's own error is the fact we compare with
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
        return exc, frames[-1].lineno
    finally:
        torch.set_grad_enabled(True)
    raise AssertionError(f"{path.name} did not raise under plain python")


@pytest.mark.parametrize("name", sorted(EXPECTED), ids=[n.removesuffix(".py") for n in sorted(EXPECTED)])
def test_error_finding_cites_the_line_that_caused_it(name, monkeypatch):
    path = BUGGY / name
    monkeypatch.chdir(path.parent)
    exc, line = _plain_error(path)
    capture = trace_target(resolve_script(str(path)), []).capture
    capture = Capture.loads(capture.dumps())  # findings are pure passes over the saved capture
    raised = capture.exit["exception"]
    assert (raised["type"], raised["message"], raised["line"]) == (type(exc).__name__, str(exc), line)
    errors = [f for f in find_all(capture) if f.code == EXPECTED[name]]
    assert errors, f"no {EXPECTED[name]} finding; got {[(f.code, f.lines) for f in find_all(capture)]}"
    assert all(f.severity == "error" for f in errors)
    assert any(_culprit(path) in f.lines for f in errors), [(f.code, f.lines, f.message) for f in errors]


def test_a_backward_that_fails_in_a_later_iteration_is_recorded_from_that_iteration(monkeypatch):
    """The second epoch's backward raises: its call is recorded (step, graph) though its line ran before."""
    path = BUGGY / "eval_leaves_grad_disabled.py"
    monkeypatch.chdir(path.parent)
    capture = trace_target(resolve_script(str(path)), []).capture
    failing = [r for r in capture.roots if r.raised]
    assert len(failing) == 1
    root = failing[0]
    assert root.step == capture.backward_calls > 3  # 3 batches per epoch: it failed in epoch 2
    loss = capture.tensor(root.tensor)
    assert (loss.requires_grad, loss.grad_fn, loss.kind, loss.cut_op) == (False, None, "no_grad", "set_grad_enabled")
    first = [r for r in capture.roots if r.step == 1]
    assert first and first[0].line == root.line and not first[0].raised


def test_unrelated_exceptions_get_no_error_finding(tmp_path, monkeypatch):
    script = tmp_path / "unrelated.py"
    script.write_text("import torch\nw = torch.ones(2, requires_grad=True)\n(w * 2).sum().backward()\n"
                      "config = {}\nprint(config['lr'])\n")
    monkeypatch.chdir(tmp_path)
    capture = trace_target(resolve_script(str(script)), []).capture
    assert capture.exit["exception"]["type"] == "KeyError"
    assert not [f for f in find_all(capture) if f.severity == "error"]


def test_any_other_backward_error_gets_a_finding_with_the_graph_state(tmp_path, monkeypatch):
    """An error no family knows (a hook that raises) still gets the raising line and the graph."""
    script = tmp_path / "hook_raises.py"
    script.write_text(
        "import torch\n"
        "w = torch.ones(3, requires_grad=True)\n"
        "def check(grad):\n"
        "    raise ValueError('gradient rejected')\n"
        "w.register_hook(check)\n"
        "loss = (w * w).sum()\n"
        "loss.backward()\n")
    monkeypatch.chdir(tmp_path)
    capture = trace_target(resolve_script(str(script)), []).capture
    found = [f for f in find_all(capture) if f.code == "GS109"]
    assert len(found) == 1 and found[0].severity == "error"
    assert found[0].lines[0] == 7 and "w" in found[0].tensors
    assert "gradient rejected" in found[0].message


def test_the_raising_frames_locals_are_recorded_as_pytorch_saw_them(tmp_path):
    """A backward that fails at the second call: the capture keeps each user frame of the traceback
    with the tensors its locals held, and their state is the one PyTorch reported at the raise."""
    script = SCRIPTS / "raise_in_function.py"
    facts_path = tmp_path / "facts.json"
    proc, capture = trace_json(script, facts_path, tmp_path=tmp_path)
    assert proc.returncode == run_python(script, tmp_path / "plain.json").returncode == 1
    facts = json.loads(facts_path.read_text())["tensors"]
    exception = capture["exit"]["exception"]
    outer, inner = exception["frames"]
    lines = script.read_text().splitlines()
    assert outer["function"] == "<module>" and lines[outer["line"] - 1].strip() == "train_step(w, torch.randn(4, 3))"
    assert inner["function"] == "train_step" and lines[inner["line"] - 1].strip() == "score.backward()"
    assert exception["line"] == inner["line"]
    assert set(inner["locals"]) == set(facts) == {"weights", "batch", "hidden", "score"}
    tensors = {t["id"]: t for t in capture["tensors"]}
    for name, fact in facts.items():
        t = tensors[inner["locals"][name]]
        assert (t["requires_grad"], t["is_leaf"], t["grad_fn"]) == \
            (fact["requires_grad"], fact["is_leaf"], fact["grad_fn"]), name
    assert outer["locals"]["w"] == inner["locals"]["weights"]  # one tensor, two names
    # and the report shows them, as a traceback would
    report = run_gradscope("render", tmp_path / "capture.json", "-o", "-").stdout
    assert "Tensors in train_step() at line %d, where RuntimeError was raised" % inner["line"] in report
