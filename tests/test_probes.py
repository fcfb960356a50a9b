"""Probes of issue 11: what a script can observe under `gradscope trace` is what `python` gives it.

Each probe in `tests/scripts/probes/` runs under python and under `gradscope trace --quiet --json`
(concurrently, to keep the suite fast); the test compares stdout, exit code and stderr, and asserts
the fact itself on python's run, so that two equally wrong runs cannot pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import SCRIPTS

PROBES = SCRIPTS / "probes"
TESTS = SCRIPTS.parent

# name -> arguments after `python` (the probe and its own arguments); all run from tests/
CASES = {
    "main_globals": ["main_globals.py"],
    "exit_2_64": ["exit_with.py", "2**64"],
    "exit_minus_2_70": ["exit_with.py", "-2**70"],
    "exit_2_31_3": ["exit_with.py", "2**31+3"],
    "excepthook": ["excepthook.py"],
    "bad_str": ["bad_str.py"],
    "atexit_state": ["atexit_state.py", "a", "b"],
    "del_at_exit": ["del_at_exit.py"],
    "bind_evil": ["bind_evil.py"],
    "saved_hooks": ["saved_hooks.py"],
    "shadowing": ["shadowing/imports_own.py"],
    "compile_strict": ["compile_warnings_as_errors.py"],
    "compile_user_code": ["compile_user_code.py"],
    "stack_limit": ["stack_limit.py"],
    "torch_warnings": ["torch_warnings.py"],
    "no_annotations": ["no_annotations.py"],
    "line_events": ["line_events.py"],
    "by_value": ["by_value.py"],
    "jit_trace": ["jit_trace.py"],
    "backward_warnings": ["backward_warnings.py"],
    "jagged": ["jagged.py"],
}


def _run(argv, cwd=TESTS):
    env = dict(os.environ, NO_COLOR="1", PYTHONHASHSEED="0")
    env.pop("FORCE_COLOR", None)
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, timeout=300)


def _both(args, tmp, cwd=TESTS, quiet=True):
    capture = tmp / "capture.json"
    options = ["--quiet"] if quiet else []
    return ([sys.executable, *args], cwd), ([sys.executable, "-m", "gradscope", "trace", *options, "--json",
                                             str(capture), *args], cwd), capture


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{name: (python run, gradscope run, capture or None)}, every case run concurrently."""
    jobs = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for name, args in CASES.items():
            tmp = tmp_path_factory.mktemp(name)
            (py, py_cwd), (gs, gs_cwd), capture = _both([str(PROBES / args[0]), *args[1:]], tmp)
            jobs[name] = (pool.submit(_run, py, py_cwd), pool.submit(_run, gs, gs_cwd), capture)
        return {name: (py.result(), gs.result(), json.loads(c.read_text()) if c.exists() else None)
                for name, (py, gs, c) in jobs.items()}


def _same(runs, name):
    py, gs, capture = runs[name]
    assert (gs.returncode, gs.stdout, gs.stderr.decode()) == (py.returncode, py.stdout, py.stderr.decode())
    return py.stdout.decode(), capture


def test_main_namespace_is_pythons(runs):
    out, _ = _same(runs, "main_globals")
    assert "'__annotations__', '__builtins__', '__cached__'" in out
    assert "module None SourceFileLoader None {'count': <class 'int'>}" in out


@pytest.mark.parametrize("name, code", [("exit_2_64", 255), ("exit_minus_2_70", 255), ("exit_2_31_3", 3)])
def test_out_of_range_exit_codes(runs, name, code):
    _same(runs, name)
    assert runs[name][0].returncode == code


def test_excepthook_runs_and_atexit_sees_last_value(runs):
    out, capture = _same(runs, "excepthook")
    assert out == "hook saw ValueError from the script True\nlast_value ValueError('from the script')\n"
    assert capture["exit"]["exception"]["type"] == "ValueError"


def test_exception_whose_str_raises(runs):
    _same(runs, "bad_str")
    py = runs["bad_str"][0]
    assert py.stderr.decode().endswith("Unprintable: <exception str() failed>\n")


def test_atexit_and_threads_see_argv_cwd_and_main_as_the_script_left_them(runs):
    out, _ = _same(runs, "atexit_state")
    assert "thread ['changed'] probes the script's module" in out
    assert out.endswith("atexit ['changed'] probes the script's module\n")


def test_del_of_a_cycle_runs_at_exit(runs):
    out, _ = _same(runs, "del_at_exit")
    assert out == "made\nflushed\n"


def test_binding_hook_never_calls_the_values_dunders(runs):
    out, capture = _same(runs, "bind_evil")
    assert out == "assigned Evil Evil\n" and capture["exit"]["code"] == 0


def test_saved_tensors_hooks_are_never_run_by_gradscope(runs):
    out, capture = _same(runs, "saved_hooks")
    assert out.endswith(" left 0\n") and capture["backward_calls"] == 1
    saved = {n["name"]: n["saved"] for n in capture["nodes"]}
    assert saved["MulBackward0"] == [{"name": "other"}, {"name": "self"}]  # names only: values need an unpack


_SHADOWED = ["colorsys", "decimal", "fractions", "hmac", "html", "msgspec", "pydantic", "rich", "secrets", "typer",
             "zoneinfo"]


def test_the_scripts_own_modules_win_over_those_gradscope_imported(runs):
    out, capture = _same(runs, "shadowing")
    assert out == f"own modules: {_SHADOWED}\ngrad: [2.0, 2.0, 2.0]\n"
    assert capture["backward_calls"] == 1 and capture["exit"]["code"] == 0


def test_outputs_are_rendered_with_gradscopes_modules_beside_a_scripts_html_py(tmp_path):
    """A folder with its own html.py, rich.py and msgspec.py: the report, the HTML page and the
    capture still come from gradscope's own modules (the script's stay the script's)."""
    page, capture = tmp_path / "page.html", tmp_path / "capture.json"
    script = PROBES / "shadowing" / "imports_own.py"
    gs = _run([sys.executable, "-m", "gradscope", "trace", "-o", str(page), "--json", str(capture), str(script)])
    assert gs.returncode == 0, gs.stderr.decode()
    assert f"own modules: {_SHADOWED}" in gs.stdout.decode()
    report = gs.stderr.decode()
    assert "imports_own.py · exit 0 · 1 backward call" in report and "Traceback" not in report
    assert "Wrote HTML to" in report and page.read_text().startswith("<!DOCTYPE html>")
    assert json.loads(capture.read_text())["backward_calls"] == 1


def test_compiled_module_does_not_warn_of_gradscopes_hooks(runs):
    out, capture = _same(runs, "compile_strict")
    assert out.startswith("compiled module ran, grad [1, 3]\nfilters ") and out.endswith(" 1\n")  # one "error" filter
    assert capture["exit"]["code"] == 0 and capture["backward_calls"] == 1


def test_torch_compile_traces_the_scripts_own_code_as_python_gives_it(runs):
    """Functions and a module forward of the script's own, compiled with fullgraph=True: the same
    gradients, graphs, graph breaks (none) and recompiles (none) as under python; gradscope still
    names the script's variables outside the compiled code."""
    out, capture = _same(runs, "compile_user_code")
    assert out.startswith("grads [0.0, 6.0, 12.0, 18.0]") and out.endswith(" 3 Adds k.\ngraphs 4 breaks 0 recompiles 0\n")
    assert capture["backward_calls"] == 3
    named = {t.get("name") for t in capture["tensors"]}
    assert {"loss", "w", "x"} <= named


def test_the_script_sees_pythons_stack_but_for_the_launchers_two_frames(tmp_path):
    """`gradscope trace` (the installed command) runs the script from its outermost function: below the
    script's frame lie only that function and the launcher's, so RecursionError comes at most 2 frames
    earlier; warnings' stacklevel and the script's own tracebacks are python's."""
    command = os.path.join(os.path.dirname(sys.executable), "gradscope")
    probe = str(PROBES / "stack.py")
    py = _run([sys.executable, probe])
    gs = _run([command, "trace", "--quiet", "--json", str(tmp_path / "c.json"), probe])
    (py_below, *py_rest), (gs_below, *gs_rest) = (r.stdout.decode().splitlines() for r in (py, gs))
    assert py_below == "frames below the script: 0" and gs_below == "frames below the script: 2"
    assert gs_rest[:-1] == py_rest[:-1] and "ValueError: caught by the script" in py_rest[-2]
    py_depth, gs_depth = (int(rest[-1].rpartition(" ")[2]) for rest in (py_rest, gs_rest))
    assert 0 <= py_depth - gs_depth <= 2, (py_depth, gs_depth)
    assert (gs.returncode, gs.stderr) == (py.returncode, py.stderr) == (0, py.stderr)
    assert b"stack.py:29: UserWarning: points at the caller's line" in py.stderr


def test_pytorchs_warnings_point_at_the_scripts_lines(runs):
    """float() of a tensor that requires grad, a non-leaf's .grad, torch.tensor(t) here and in a
    function: each of PyTorch's warnings names the script's line, as under python."""
    _same(runs, "torch_warnings")
    lines = [int(m) for m in re.findall(rb"torch_warnings.py:(\d+): UserWarning", runs["torch_warnings"][0].stderr)]
    assert lines == [11, 13, 14, 18], lines


def test_warnings_raised_inside_backward_point_at_each_backward_line(runs):
    """A full backward hook's warning fires inside backward(): python names each backward() line (and
    shows both under the default filter); so does gradscope, whose own frames sit between them."""
    _same(runs, "backward_warnings")
    lines = [int(m) for m in re.findall(rb"backward_warnings.py:(\d+): UserWarning", runs["backward_warnings"][0].stderr)]
    assert lines == [10, 14], lines


def test_a_jagged_nested_tensor_is_traced_and_captured(runs):
    """Its symbolic size (`j1`) has no single value: the capture says the shape is unknown rather than
    failing the report (which changed the exit code)."""
    out, capture = _same(runs, "jagged")
    assert "grad True torch.Size([7, 3])" in out
    shapes = [t["shape"] for t in capture["tensors"]]
    assert None in shapes and [7, 3] in shapes, shapes  # the nested tensor; its values()


def test_main_has_pythons_empty_annotations(runs):
    out, _ = _same(runs, "no_annotations")
    assert out.startswith("{} ") and "'__annotations__', '__builtins__', '__file__', '__cached__'" in out


def test_a_tracer_sees_the_scripts_lines_in_pythons_order(runs):
    """pdb's `next` and coverage see the lines of the script's own function as under python (the
    checks gradscope adds stand on the line of the binding they check)."""
    out, _ = _same(runs, "line_events")
    assert out == "12 [18, 19, 20, 21, 19, 20, 21, 19, 20, 21, 19, 22]\n"


def test_a_function_rebuilt_without_gradscope_runs_its_own_body(runs):
    """A function of the script rebuilt from its code with fresh builtins (cloudpickle's way to ship
    it to a worker, where gradscope does not run) runs as python's does."""
    out, _ = _same(runs, "by_value")
    assert out == "7 7\n"


def test_jit_trace_runs_and_its_warnings_point_at_the_script(runs):
    out, capture = _same(runs, "jit_trace")
    assert out == "torch.Size([1, 2]) [2.0, 2.0]\n" and capture["exit"]["code"] == 0
    assert b"jit_trace.py:14: TracerWarning" in runs["jit_trace"][0].stderr


@pytest.mark.parametrize("where", ["log", "close"])
def test_the_report_goes_to_the_processs_stderr_not_to_the_scripts(tmp_path, where):
    """The script logs its stderr to a file (or closes it) and wraps stdout: python leaves the log
    with the script's own line; gradscope's report still reaches the process's stderr, never the log."""
    log = tmp_path / "script.log"
    arg = str(log) if where == "log" else "close"
    (py, py_cwd), (gs, gs_cwd), _ = _both([str(PROBES / "own_streams.py"), arg], tmp_path, quiet=False)
    py = _run(py, py_cwd)
    py_log = log.read_text() if where == "log" else None
    gs = _run(gs, gs_cwd)
    assert (gs.returncode, gs.stdout) == (py.returncode, py.stdout) == (0, b"GRAD [3.0, 3.0]\n")
    if where == "log":
        assert log.read_text() == py_log == "from the script\n"
        assert "gradscope own_streams.py · exit 0 · 1 backward call" in gs.stderr.decode()
    else:  # the script closed the process's stderr itself: nothing can reach it, and nothing fails
        assert gs.stderr == py.stderr == b""


def test_safe_path_adds_no_folder_to_sys_path(tmp_path):
    """PYTHONSAFEPATH=1 (-P): python puts no folder of the script first on sys.path; nor does gradscope."""
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint(sys.path[0].endswith('.zip') or sys.path[0] != sys.argv[0])\n"
                      "print(any(p == __import__('os').path.dirname(__file__) for p in sys.path))\n")
    env = dict(os.environ, PYTHONSAFEPATH="1")
    py = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, cwd=tmp_path)
    gs = subprocess.run([sys.executable, "-m", "gradscope", "trace", "--quiet", str(script)], env=env,
                        capture_output=True, cwd=tmp_path)
    assert (gs.returncode, gs.stdout) == (py.returncode, py.stdout) == (0, b"True\nFalse\n"), gs.stderr


def test_an_ordinary_graph_leaves_the_stack_limit_alone(runs):
    out, capture = _same(runs, "stack_limit")
    assert out == "stack limit unchanged: True\n" and capture["backward_calls"] == 1


def test_symlinked_script_imports_its_real_siblings(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "sibling.py").write_text("WHERE = 'real'\n")
    (real / "script.py").write_text("import sys, sibling\nprint(sibling.WHERE, sys.path[0].endswith('real'))\n")
    link = tmp_path / "link"
    link.mkdir()
    (link / "script.py").symlink_to(real / "script.py")
    (py, py_cwd), (gs, gs_cwd), _ = _both([str(link / "script.py")], tmp_path, cwd=tmp_path)
    py, gs = _run(py, py_cwd), _run(gs, gs_cwd)
    assert (gs.returncode, gs.stdout, gs.stderr) == (py.returncode, py.stdout, py.stderr)
    assert py.stdout == b"real True\n"


def test_forked_child_that_runs_to_the_end_does_not_report(tmp_path):
    (py, py_cwd), (gs, gs_cwd), capture = _both([str(PROBES / "fork_child.py")], tmp_path, quiet=False)
    py, gs = _run(py, py_cwd), _run(gs, gs_cwd)
    assert (gs.returncode, gs.stdout) == (py.returncode, py.stdout) == (0, b"child [3.0, 3.0]\nparent [3.0, 3.0]\n")
    assert gs.stderr.decode().count("gradscope fork_child.py") == 1, gs.stderr.decode()
    assert json.loads(capture.read_text())["backward_calls"] == 1
