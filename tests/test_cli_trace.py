"""The `trace` command: argument passing, exit codes, roots (--root, --step), names in functions."""

from __future__ import annotations

import json

from conftest import SCRIPTS, run_gradscope, trace_json


def test_options_after_script_belong_to_the_script(tmp_path):
    proc = run_gradscope("trace", "--quiet", SCRIPTS / "argv_echo.py", "-o", "x.svg", "--json", "7")
    assert proc.returncode == 7
    printed = json.loads(proc.stdout)
    assert printed["argv"] == [str(SCRIPTS / "argv_echo.py"), "-o", "x.svg", "--json", "7"]
    assert printed["name"] == "__main__"
    assert proc.stderr == ""


def test_report_goes_to_stderr_and_stdout_stays_clean():
    proc = run_gradscope("trace", SCRIPTS / "argv_echo.py")
    assert proc.returncode == 0
    assert proc.stdout.strip().startswith("{") and len(proc.stdout.strip().splitlines()) == 1
    assert "root out" in proc.stderr and "top-level result" in proc.stderr


def test_roots_per_call_site_with_counts(tmp_path):
    proc, capture = trace_json(SCRIPTS / "functions_and_roots.py", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    tensors = {t["id"]: t for t in capture["tensors"]}
    roots = [(tensors[r["tensor"]]["name"], tensors[r["tensor"]]["scope"], r["line"], r["calls"], r["step"])
             for r in capture["roots"]]
    # loss.backward() inside step() ran 5 times (first graph kept), then aux.backward() once
    assert roots == [("loss", "step", 12, 5, 1), ("aux", None, 20, 1, 6)]
    assert capture["backward_calls"] == 6
    # made as `weights` inside make(), returned and bound to `w` at module level: named `w`
    assert not [t for t in capture["tensors"] if t["name"] == "weights"]
    w = tensors[capture["variables"]["w"]]
    assert (w["name"], w["scope"], w["line"], w["kind"]) == ("w", None, 6, "leaf")


def test_step_selects_the_nth_backward(tmp_path):
    proc, capture = trace_json(SCRIPTS / "functions_and_roots.py", tmp_path=tmp_path, extra=("--step", "3"))
    assert proc.returncode == 0, proc.stderr
    assert [(r["step"], r["line"]) for r in capture["roots"]] == [(3, 12)]


def test_step_beyond_backward_calls_is_an_error(tmp_path):
    proc = run_gradscope("trace", "--quiet", "--step", "99", SCRIPTS / "functions_and_roots.py")
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == ("gradscope: error: --step 99: the script called backward only 6 "
                                                   "time(s); choose --step between 1 and 6")
    assert "Traceback" not in proc.stderr


def test_root_by_name(tmp_path):
    proc, capture = trace_json(SCRIPTS / "functions_and_roots.py", tmp_path=tmp_path, extra=("--root", "total"))
    assert proc.returncode == 0, proc.stderr
    tensors = {t["id"]: t for t in capture["tensors"]}
    assert [(tensors[r["tensor"]]["name"], r["call"]) for r in capture["roots"]] == [("total", "selected")]


def test_root_naming_nothing_is_an_error():
    proc = run_gradscope("trace", "--quiet", "--root", "nope", SCRIPTS / "functions_and_roots.py")
    assert proc.returncode != 0
    assert "--root nope" in proc.stderr and "Traceback" not in proc.stderr


def test_implicit_roots_without_backward(tmp_path):
    """No backward: roots are top-level tensors requiring grad that feed no other such tensor."""
    script = tmp_path / "nobackward.py"
    script.write_text("import torch\na = torch.ones(2, requires_grad=True)\nb = a * 2\nc = b + 1\nd = a.sum()\n")
    proc, capture = trace_json(script, tmp_path=tmp_path)
    tensors = {t["id"]: t for t in capture["tensors"]}
    assert sorted(tensors[r["tensor"]]["name"] for r in capture["roots"]) == ["c", "d"]
    assert all(r["call"] == "implicit" for r in capture["roots"])
