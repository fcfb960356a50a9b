"""`--nan`: the first op (forward) and node (backward) that made a NaN/Inf, at the user's line,
in a loop where it happens only at a later step; `--stop-after-nan` ends the script there."""

from __future__ import annotations

import pytest

from conftest import SCRIPTS, run_gradscope, run_python

SCRIPT = SCRIPTS / "health_nan_log.py"
LOG_LINE = next(i for i, text in enumerate(SCRIPT.read_text().splitlines(), 1) if "torch.log(" in text)


@pytest.fixture(scope="module")
def plain_first_bad():
    proc = run_python(SCRIPT)
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1])  # the step whose loss PyTorch found non-finite first


@pytest.fixture(scope="module")
def traced(plain_first_bad):
    from gradscope.api import trace_target
    from gradscope.runner import resolve_script

    result = trace_target(resolve_script(str(SCRIPT)), [], health={"nan": True})
    return result.capture


def test_forward_origin_is_the_log_at_its_step(traced, plain_first_bad):
    assert plain_first_bad >= 5
    health = traced.grad_health
    assert health.nan_checked
    forward = [o for o in health.nan if o.phase == "forward"]
    assert len(forward) == 1
    origin = forward[0]
    assert (origin.op, origin.line, origin.file) == ("log", LOG_LINE, "health_nan_log.py")
    assert origin.call == plain_first_bad  # backward calls that ran before it: one per earlier step
    assert origin.inputs_finite and "`sub`" in origin.inputs[0] and "min 0" in origin.inputs[0]
    assert traced.tensor(origin.tensor).op == "log"


def test_backward_origin_is_a_node_of_that_line(traced, plain_first_bad):
    (backward,) = [o for o in traced.grad_health.nan if o.phase == "backward"]
    assert backward.line == LOG_LINE and backward.op.endswith("Backward0")
    assert backward.call == plain_first_bad + 1  # during the backward call of that step


def test_without_nan_nothing_is_checked(tmp_path):
    from gradscope.api import trace_target
    from gradscope.runner import resolve_script

    capture = trace_target(resolve_script(str(SCRIPT)), []).capture
    assert not capture.grad_health.nan_checked and capture.grad_health.nan == []


def test_stop_after_nan_ends_the_script_there(tmp_path, plain_first_bad):
    out = tmp_path / "cap.json"
    proc = run_gradscope("trace", "--quiet", "--stop-after-nan", "--json", out, SCRIPT)
    assert proc.returncode == 1
    assert "first non-finite loss" not in proc.stdout  # the script did not run to its end
    assert f"--stop-after-nan: first INF in the forward pass at line {LOG_LINE} (log)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert out.exists()


MASKS = SCRIPTS / "health_nan_masks.py"
PRODUCT_LINE = next(i for i, text in enumerate(MASKS.read_text().splitlines(), 1) if text.endswith("# NaN line"))


def _nan_origins(*args):
    from gradscope.api import trace_target
    from gradscope.runner import resolve_script

    return trace_target(resolve_script(str(MASKS)), list(args), health={"nan": True}).capture.grad_health.nan


def test_minus_inf_masks_are_not_an_origin():
    """A causal mask (triu of -inf) and -inf padding, which softmax turns into zeros: PyTorch's loss is
    finite at every step, and --nan names no origin."""
    proc = run_python(MASKS)
    assert proc.returncode == 0 and proc.stdout.strip() == "first NaN step: -1", proc.stdout
    assert _nan_origins() == []


def test_a_nan_made_from_a_masked_input_is_cited_at_the_product():
    """0 * -inf: the origin is the product that made the NaN, from inputs that held -inf on purpose."""
    proc = run_python(MASKS, "product")
    first_bad = int(proc.stdout.split()[-1])
    assert first_bad >= 2
    (origin,) = [o for o in _nan_origins("product") if o.phase == "forward"]
    assert (origin.op, origin.line, origin.value) == ("mul", PRODUCT_LINE, "nan")
    assert origin.inputs_finite and origin.inputs_inf and origin.call == first_bad
