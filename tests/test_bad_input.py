"""Bad input: every mistake gets one line naming the problem and the fix, a non-zero exit, and
never a gradscope traceback; a capture file either loads or raises CaptureError."""

from __future__ import annotations

import copy
import io
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from conftest import SAMPLES, SCRIPTS, run_gradscope
from rich.console import Console

from gradscope.analyse.findings import explain_tensor, find_all
from gradscope.capture import FORMAT_VERSION, Capture
from gradscope.commands import load_capture
from gradscope.errors import CaptureError
from gradscope.output import render_bytes
from gradscope.render.findings import findings_json, print_explanation, print_findings
from gradscope.render.tree import render_text


@pytest.fixture(scope="module")
def good_capture():
    """A real, rich capture (modules, optimizer, several backward calls), traced in-process."""
    from gradscope import runner
    from gradscope.api import trace_target

    return trace_target(runner.resolve_script(str(SAMPLES / "training_loop.py")), []).capture.to_json()


def one_line_error(proc, *words):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradscope: error: "), proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def test_cli_mistakes_before_anything_runs(tmp_path):
    script = str(SCRIPTS / "exits_3.py")  # would print and exit 3 if it ran
    (tmp_path / "d.svg").mkdir()
    cases = [  # (argv, words the message must contain: the problem and the fix)
        (["trace", str(tmp_path / "nope.py")], ["no such script", "nope.py", "check the path"]),
        (["trace", str(tmp_path)], ["is a directory", "-m"]),
        (["trace", "-m", "no_such_module_xyz"], ["no module named no_such_module_xyz", "check the name"]),
        (["trace", "--bogus", script], ["--bogus", "--help"]),
        (["trace", "-o", str(tmp_path / "missing" / "x.svg"), script], ["cannot write", "does not exist"]),
        (["trace", "-o", str(tmp_path / "out.xyz"), script], ["out.xyz", "--format"]),
        (["trace", "--format", "bmp", "-o", str(tmp_path / "o"), script], ["unknown format", "svg"]),
        (["trace", "-o", str(tmp_path / "d.svg"), script], ["is a directory"]),
        (["trace", "--json", str(tmp_path / "no" / "c.json"), script], ["cannot write", "does not exist"]),
        (["trace", "--step", "0", script], ["--step", "--help"]),
        (["trace"], ["missing SCRIPT", "usage"]),
        (["frobnicate"], ["frobnicate", "--help"]),
        (["render", str(tmp_path / "missing.json")], ["no such capture", "missing.json"]),
        (["render", str(tmp_path)], ["directory", "not a capture"]),
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        procs = list(pool.map(lambda case: run_gradscope(*case[0], cwd=tmp_path), cases))
    for (argv, words), proc in zip(cases, procs):
        one_line_error(proc, *words)
        assert proc.stdout == "", argv  # the script never ran
    assert os.listdir(tmp_path) == ["d.svg"], "no output files appear"


def test_syntax_error_in_script_is_the_users_error(tmp_path):
    proc = run_gradscope("trace", SCRIPTS / "syntax_error.py")
    assert proc.returncode == 1
    assert "SyntaxError: '(' was never closed" in proc.stderr and "Traceback" not in proc.stderr
    assert 'syntax_error.py", line 2' in proc.stderr


def test_root_naming_no_tensor_and_step_beyond_backward_calls(tmp_path):
    script = SCRIPTS / "double_backward.py"  # two backward calls; prints nothing
    root = run_gradscope("trace", "--root", "nosuch", script, tmp_path / "f.json")
    one_line_error(root, "--root nosuch", "no tensor")
    step = run_gradscope("trace", "--step", "3", script, tmp_path / "f.json")
    one_line_error(step, "--step 3", "only 2", "between 1 and 2")


def test_missing_dot_fails_early_and_text_formats_still_work(tmp_path, good_capture):
    capture = tmp_path / "c.json"
    capture.write_text(json.dumps(good_capture))
    no_dot = {"PATH": str(tmp_path / "bin")}  # an empty PATH: Graphviz's dot cannot be found
    (tmp_path / "bin").mkdir()
    svg = run_gradscope("render", capture, "-o", tmp_path / "g.svg", "-o", tmp_path / "t.txt", env=no_dot)
    one_line_error(svg, "dot", "install Graphviz")
    traced = run_gradscope("trace", "-o", tmp_path / "g.png", SCRIPTS / "exits_3.py", env=no_dot)
    one_line_error(traced, "dot", "install Graphviz")
    assert traced.stdout == "", "the script is not run when an output cannot be produced"
    text = run_gradscope("render", capture, "-o", tmp_path / "t.txt", "-o", tmp_path / "g.dot", "-o",
                         tmp_path / "c2.json", env=no_dot)
    assert text.returncode == 0, text.stderr
    assert (tmp_path / "t.txt").read_text().strip() and (tmp_path / "g.dot").read_text().startswith("digraph")
    assert json.loads((tmp_path / "c2.json").read_text()) == good_capture
    assert not (tmp_path / "g.svg").exists() and not (tmp_path / "g.png").exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".gradscope-")], "no temporary file left"


def test_render_of_broken_captures(tmp_path, good_capture):
    text = json.dumps(good_capture)
    wrong_schema = copy.deepcopy(good_capture)
    wrong_schema["tensors"][0]["kind"] = "weird"
    dangling = copy.deepcopy(good_capture)
    dangling["edges"][0]["src"] = "t99999"
    files = {
        "empty": ("", ["empty"]),
        "truncated": (text[: len(text) // 2], ["not valid JSON", "gradscope trace --json"]),
        "notjson": ("print('hello')\n", ["not valid JSON"]),
        "list": ("[1, 2]", ["not a gradscope capture"]),
        "schema": (json.dumps(wrong_schema), ["malformed", "weird"]),
        "dangling": (json.dumps(dangling), ["malformed", "t99999"]),
        "newer": (json.dumps(dict(good_capture, format_version=FORMAT_VERSION + 1)), ["newer", "upgrade gradscope"]),
    }
    for name, (content, words) in files.items():
        path = tmp_path / f"{name}.json"
        path.write_text(content)
        with pytest.raises(CaptureError) as info:
            load_capture(str(path))
        for word in words:
            assert word in str(info.value), (name, str(info.value))
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(CaptureError):
        load_capture(str(tmp_path / "binary.json"))
    # and through the command line: one line, no traceback, no torch import needed
    one_line_error(run_gradscope("render", tmp_path / "truncated.json"), "truncated.json", "not valid JSON")


# -- property: random and mutated captures load or raise CaptureError, nothing else ------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _load_or_capture_error(text: str) -> None:
    try:
        capture = Capture.loads(text)
    except CaptureError as exc:
        assert "\n" not in str(exc)
        return

    render_text(capture)  # what loads must also render, and explain
    render_bytes(capture, "dot", {})
    render_bytes(capture, "html", {})
    console = Console(file=io.StringIO(), width=100)
    found = find_all(capture)
    print_findings(found, console, always=True)
    json.dumps(findings_json(found), allow_nan=False)
    for name in {t.name for t in capture.tensors[:3]} | {"x"}:
        print_explanation(explain_tensor(capture, str(name)), console)
    assert Capture.loads(capture.dumps()) == capture  # and round-trip


def _mutate(data, draw):
    """Replace, delete or retype one value somewhere inside `data` (a parsed capture)."""
    node = data
    for _ in range(draw(st.integers(0, 4))):
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node)) if isinstance(
            node, list) else []
        children = [(k, v) for k, v in children if isinstance(v, (dict, list)) and v]
        if not children:
            break
        _, node = children[draw(st.integers(0, len(children) - 1))]
    keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
    if not keys:
        return
    key = keys[draw(st.integers(0, len(keys) - 1))]
    action = draw(st.sampled_from(["replace", "delete", "duplicate"]))
    if action == "replace":
        node[key] = draw(json_values)
    elif action == "delete":
        del node[key]
    elif isinstance(node, list):
        node.append(copy.deepcopy(node[key]))
    else:
        node[key] = [node[key], node[key]]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_captures_load_or_raise_capture_error(good_capture, data):
    mutated = copy.deepcopy(good_capture)
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(mutated, data.draw)
    _load_or_capture_error(json.dumps(mutated))


@settings(max_examples=150, deadline=None)
@given(json_values)
@example([{"\n": None}])  # an unknown field named by a newline: msgspec's message quotes it (found by this test)
def test_random_json_loads_or_raises_capture_error(value):
    _load_or_capture_error(json.dumps(value))
    _load_or_capture_error(json.dumps({"format_version": 1, "tensors": value}))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_truncated_captures_raise_capture_error(good_capture, data):
    text = json.dumps(good_capture)
    cut = data.draw(st.integers(0, len(text) - 1))
    with pytest.raises(CaptureError):
        Capture.loads(text[:cut])
