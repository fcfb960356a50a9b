"""Faithful execution: a script run under `gradscope trace` behaves exactly as under plain `python`.

Each case runs the same command line both ways in a subprocess (in parallel, to keep the suite fast)
and compares argv, __name__, __file__, sys.path[0], cwd, stdout bytes, exit code, and — with
`--quiet` — stderr bytes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import ROOT, SCRIPTS

TESTS = SCRIPTS.parent


def _run(argv, cwd, stdin=b"", timeout=180):
    env = dict(os.environ, NO_COLOR="1", PYTHONHASHSEED="0")
    env.pop("FORCE_COLOR", None)
    return subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, timeout=timeout)


def _shell_code(rc: int) -> int:
    """Exit status as a shell shows it: python dies by SIGINT after KeyboardInterrupt (-2 -> 130)."""
    return 128 - rc if rc < 0 else rc


# name -> (command after `python` / `gradscope trace --quiet --json CAPTURE`, cwd, stdin)
CASES = {
    "env": (["scripts/dump_env.py", "a", "-b", "--c=1", "-o", "x.svg"], TESTS, b"from stdin\n"),
    "raises": (["scripts/raises.py"], TESTS, b""),
    "raises_in_torch": (["scripts/raises_in_torch.py"], TESTS, b""),
    "backward_error": (["scripts/backward_error.py"], TESTS, b""),
    "exit3": (["scripts/exits_3.py"], TESTS, b""),
    "exit_builtin": (["scripts/exits_builtin.py"], TESTS, b""),
    "exit_message": (["scripts/exits_message.py"], TESTS, b""),
    "os_exit": (["scripts/os_exit.py"], TESTS, b""),
    "interrupt": (["scripts/interrupt.py"], TESTS, b""),
    "threads": (["scripts/threads.py"], TESTS, b""),
    "warns": (["scripts/warns.py"], TESTS, b""),
    "syntax": (["scripts/syntax_error.py"], TESTS, b""),
    "module": (["-m", "pkg.tool", "x", "--flag"], SCRIPTS, b""),
    "package": (["-m", "pkg", "q"], SCRIPTS, b""),
    "mp": (["scripts/mp_dataloader.py"], TESTS, b""),
    "no_tensors": (["scripts/no_tensors.py"], TESTS, b""),
    "hooks": (["scripts/hooks.py"], TESTS, b""),
    "own_mode": (["scripts/own_mode.py"], TESTS, b""),
}


# Expensive under plain python too (they import torch in worker processes): their output is known.
GS_ONLY = {"mp", "threads"}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every case under python and under gradscope, run concurrently: {name: (python, gradscope, capture)}."""
    out = tmp_path_factory.mktemp("faithful")
    jobs = {}
    with ThreadPoolExecutor(max_workers=6) as pool:
        for name, (cmd, cwd, stdin) in CASES.items():
            capture = out / f"{name}.json"
            gs = [sys.executable, "-m", "gradscope", "trace", "--quiet", "--json", str(capture), *cmd]
            py = pool.submit(_run, [sys.executable, *cmd], cwd, stdin) if name not in GS_ONLY else None
            jobs[name] = (py, pool.submit(_run, gs, cwd, stdin), capture)
        return {name: (py and py.result(), gs.result(), json.loads(cap.read_text()) if cap.exists() else None)
                for name, (py, gs, cap) in jobs.items()}


def _same(runs, name, stderr=True):
    py, gs, capture = runs[name]
    if py is None:
        return py, gs, capture
    assert _shell_code(gs.returncode) == _shell_code(py.returncode), gs.stderr.decode()
    assert gs.stdout == py.stdout
    if stderr:
        assert gs.stderr == py.stderr
    return py, gs, capture


def test_argv_name_file_path0_cwd_stdin_sibling_and_main_guard(runs):
    py, gs, capture = _same(runs, "env")
    seen = gs.stdout.decode()
    # the facts themselves, so that the comparison cannot pass on two equally wrong runs
    assert "argv ['scripts/dump_env.py', 'a', '-b', '--c=1', '-o', 'x.svg']" in seen
    assert f"file {SCRIPTS / 'dump_env.py'}" in seen and f"path0 {SCRIPTS}" in seen and f"cwd {TESTS}" in seen
    assert "name __main__" in seen and "guarded block ran" in seen and "sibling 42" in seen
    assert "stdin 'from stdin\\n'" in seen and "main_is_self True" in seen
    assert capture["exit"]["code"] == 0


@pytest.mark.parametrize("name, code", [("exit3", 3), ("exit_builtin", 0), ("exit_message", 1), ("os_exit", 4)])
def test_exit_codes(runs, name, code):
    py, gs, capture = _same(runs, name)
    assert py.returncode == code
    assert capture["exit"]["code"] == code if name != "os_exit" else capture is None


def test_raising_script_keeps_its_traceback_exit_code_and_partial_capture(runs):
    py, gs, capture = _same(runs, "raises")
    assert gs.returncode == 1
    err = gs.stderr.decode()
    assert err.startswith("Traceback") and "ValueError: boom from the user" in err and "gradscope" not in err
    assert capture["exit"]["exception"]["type"] == "ValueError" and capture["exit"]["exception"]["line"] == 10
    assert capture["backward_calls"] == 1 and capture["roots"], "the graph before the error is kept"


def test_error_inside_torch_shows_no_gradscope_or_override_frames(runs):
    py, gs, capture = _same(runs, "raises_in_torch")
    err = gs.stderr.decode()
    assert "RuntimeError" in err and "gradscope" not in err and "overrides.py" not in err
    assert capture["exit"]["exception"]["line"] == 6


def test_error_raised_by_backward_itself(runs):
    py, gs, capture = _same(runs, "backward_error")
    assert b"modified by an inplace operation" in gs.stderr and b"gradscope" not in gs.stderr
    assert capture["exit"]["exception"]["line"] == 12 and capture["backward_calls"] == 1


def test_syntax_error_is_reported_as_python_does(runs):
    py, gs, capture = _same(runs, "syntax")
    assert gs.returncode == 1 and b"SyntaxError" in gs.stderr and b"Traceback" not in gs.stderr


def test_keyboard_interrupt_raised_by_the_script(runs):
    py, gs, capture = _same(runs, "interrupt")
    assert gs.returncode == py.returncode == -signal.SIGINT and gs.stdout == b"training\n"  # python's exit
    assert capture["exit"]["exception"]["type"] == "KeyboardInterrupt" and capture["exit"]["code"] == 130


def _sigint_as_in_a_terminal():
    """A child of a background job inherits SIGINT ignored; a terminal's foreground job has it default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _ignoring_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def test_ctrl_c_renders_what_was_captured_then_dies_by_sigint_as_python_does(tmp_path):
    capture = tmp_path / "c.json"
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.Popen([sys.executable, "-m", "gradscope", "trace", "--json", str(capture),
                             str(SCRIPTS / "sleeps.py")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_sigint_as_in_a_terminal)
    assert proc.stdout.readline() == b"ready\n"
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == -signal.SIGINT, text  # the shell shows 130
    assert "KeyboardInterrupt" in text and "Aborted" not in text
    assert text.index("root loss") > text.index("KeyboardInterrupt"), "the report follows the traceback"
    assert "gradscope/" not in text[:text.index("KeyboardInterrupt")], "no gradscope frame in the traceback"
    assert json.loads(capture.read_text())["backward_calls"] == 1


@pytest.mark.parametrize("command", ["python", "gradscope"])
def test_ctrl_c_ignored_by_the_parent_stays_ignored(command):
    """Started with SIGINT ignored (a background job), python ignores Ctrl-C: so does gradscope."""
    prefix = [sys.executable] if command == "python" else [sys.executable, "-m", "gradscope", "trace", "--quiet"]
    proc = subprocess.Popen([*prefix, str(SCRIPTS / "probes" / "ignores_ctrl_c.py")], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_ignoring_sigint)
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, out, err) == (0, b"done\n", b"")


def test_threads_run_and_their_backward_is_recorded(runs):
    py, gs, capture = _same(runs, "threads")
    assert gs.returncode == 0 and gs.stderr == b"", gs.stderr.decode()
    assert json.loads(gs.stdout) == {"0": [2.0, 2.0, 2.0], "1": [4.0, 4.0, 4.0]}
    assert capture["backward_calls"] == 2
    assert [(r["line"], r["calls"]) for r in capture["roots"]] == [(14, 2)]


def test_module_runs_like_python_dash_m(runs):
    py, gs, capture = _same(runs, "module")
    seen = gs.stdout.decode()
    assert f"argv0 {SCRIPTS / 'pkg' / 'tool.py'}" in seen and "args ['x', '--flag']" in seen
    assert "name __main__" in seen and "package pkg" in seen and "spec pkg.tool" in seen
    assert f"path0 {SCRIPTS}" in seen and "helper helper" in seen
    assert capture["backward_calls"] == 1


def test_package_with_dunder_main(runs):
    py, gs, capture = _same(runs, "package")
    assert gs.stdout == b"pkg main __main__ pkg pkg.__main__ ['q']\n"


def test_multiprocessing_and_dataloader_workers(runs):
    py, gs, capture = _same(runs, "mp")
    assert gs.returncode == 0 and gs.stderr == b"", gs.stderr.decode()
    assert gs.stdout == b"seen 8 doubled [2, 4, 6] modes in workers 0\n"
    assert capture["backward_calls"] == 2


def test_torch_warnings_reach_the_user_from_their_lines_and_are_recorded(runs):
    py, gs, capture = _same(runs, "warns")
    err = py.stderr.decode()
    # plain python shows four warnings: the C++ one and the stacklevel=2 one, each from two lines
    assert [line.split(":")[1] for line in err.splitlines() if "UserWarning" in line] == ["8", "9", "12", "13"]
    recorded = [(w["category"], w["file"], w["line"]) for w in capture["warnings"]]
    assert recorded == [("UserWarning", "warns.py", n) for n in (8, 9, 12, 13)]
    assert "not a leaf" in capture["warnings"][0]["message"] and "target size" in capture["warnings"][2]["message"]


def test_script_without_tensors(runs):
    py, gs, capture = _same(runs, "no_tensors")
    assert gs.stdout == b"no tensors here 45\n"
    assert capture["tensors"] == [] and capture["roots"] == [] and capture["backward_calls"] == 0


def test_user_hooks_still_fire_in_order(runs):
    py, gs, capture = _same(runs, "hooks")
    assert gs.stdout.startswith(b"['pre', 'fwd', 'y-grad', 'post-acc', 'module-bwd', 'x-grad']")
    assert capture["backward_calls"] == 1


def test_script_with_its_own_torch_function_mode_and_anomaly_detection(runs):
    py, gs, capture = _same(runs, "own_mode")  # stderr too: anomaly mode's forward trace has no gradscope frame
    assert gs.stdout.startswith(b"['mul', 'sum', 'backward'] [3.0, 3.0] False\n")
    assert b"anomaly: Function 'SqrtBackward0' returned nan" in gs.stdout
    assert b"Traceback of forward call" in gs.stderr and b"own_mode.py\", line 25" in gs.stderr


def test_instrumentation_removed_after_a_raising_in_process_trace():
    """In-process: the script raises, yet no mode, hook, trace function or patch stays installed."""
    import builtins
    import threading
    import warnings

    import torch
    import torch.fx.traceback as fx_traceback
    from torch.overrides import _get_current_function_mode_stack

    from gradscope import runner
    from gradscope.api import trace_target

    before = (warnings.showwarning, fx_traceback.format_stack, threading.Thread._bootstrap_inner,
              sys.gettrace(), list(warnings.filters), list(sys.meta_path), dict(sys.modules).get("__main__"))
    result = trace_target(runner.resolve_script(str(SCRIPTS / "raises.py")), [])
    assert result.exit_code == 1 and result.capture.exit["exception"]["type"] == "ValueError"
    after = (warnings.showwarning, fx_traceback.format_stack, threading.Thread._bootstrap_inner,
             sys.gettrace(), list(warnings.filters), list(sys.meta_path), dict(sys.modules).get("__main__"))
    assert after == before
    assert not _get_current_function_mode_stack()
    hook = getattr(builtins, "__gradscope_bind__", None)
    assert hook is None or hook.__name__ == "_noop"  # a no-op stays for functions the script left behind
    from torch.nn.modules import module as modmod

    assert not modmod._global_forward_hooks and not modmod._global_forward_pre_hooks
    assert torch.is_grad_enabled()
