"""--stop-after N: the script ends like `sys.exit(0)` right after its N-th backward call returns
(finally, with and atexit run), whatever kind of backward call it was and wherever it was made."""

from __future__ import annotations

import json

import pytest

from conftest import SCRIPTS, run_gradscope, run_python, trace_json

STOP_NOTE = "stopped after backward call {} (--stop-after)"


def test_long_run_stops_after_second_step_and_cleans_up(tmp_path):
    proc = run_gradscope("trace", "--json", tmp_path / "cap.json", "--stop-after", "2", SCRIPTS / "slow_training.py")
    assert proc.returncode == 0, proc.stderr
    header = proc.stderr.splitlines()[0]
    assert header.endswith("2 backward calls, 1 graph recorded · " + STOP_NOTE.format(2)), header
    cap = json.loads((tmp_path / "cap.json").read_text())
    # the first step finished; the second stopped inside loss.backward(), after it returned
    assert proc.stdout == "step 0 done\nfinally ran\nwith exited\natexit ran\n"
    assert cap["backward_calls"] == 2 and cap["stopped_after"] == 2
    [root] = cap["roots"]
    assert root["calls"] == 2 and root["raised"] is None
    weight = next(t for t in cap["tensors"] if t["param_name"] == "model.weight")
    assert weight["grads"] == [True] and weight["grad_is_none"] is False


def test_every_kind_of_backward_call_counts(tmp_path):
    """Call 2 is torch.autograd.backward inside a helper, call 3 is torch.autograd.grad."""
    n = 3
    plain = run_python(SCRIPTS / "backward_calls.py")
    assert plain.stdout.splitlines() == [f"after call {i}" for i in range(1, 5)]
    proc, cap = trace_json(SCRIPTS / "backward_calls.py", tmp_path=tmp_path, extra=("--stop-after", str(n)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == plain.stdout.splitlines()[: n - 1]
    assert cap["backward_calls"] == n and cap["stopped_after"] == n
    assert [r["call"] for r in cap["roots"]] == ["backward", "autograd.backward", "autograd.grad"][:n]


def test_swallowed_exit_is_raised_again_at_the_next_backward(tmp_path):
    proc, cap = trace_json(SCRIPTS / "swallows_exit.py", tmp_path=tmp_path, extra=("--stop-after", "1"))
    assert proc.returncode == 0, proc.stderr
    # the second backward never ran: w.grad is still the first call's
    assert proc.stdout == "swallowed\ngrad [2.0, 2.0]\n"
    assert cap["backward_calls"] == 1 and cap["stopped_after"] == 1


def test_script_that_ends_first_is_not_said_to_have_stopped(tmp_path):
    proc, cap = trace_json(SCRIPTS / "backward_calls.py", tmp_path=tmp_path, extra=("--stop-after", "9"))
    assert proc.returncode == 0 and proc.stdout.count("after call") == 4
    assert cap["backward_calls"] == 4 and cap["stopped_after"] is None


def test_explain_stops_too():
    proc = run_gradscope("explain", "--stop-after", "2", SCRIPTS / "backward_calls.py")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "after call 1\n"
    assert "gradscope: " + STOP_NOTE.format(2) in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["--stop-after", "0"], "--stop-after"),
    (["--stop-after", "1", "--step", "2"], "--step 2 asks for a backward call after --stop-after 1"),
])
def test_bad_stop_after_is_one_line(args, message):
    proc = run_gradscope("trace", *args, SCRIPTS / "backward_calls.py")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("gradscope: error:") and message in proc.stderr
    assert "Traceback" not in proc.stderr
