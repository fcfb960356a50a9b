"""Security: capture files are data (never executed), strings from user code are escaped in every
output, and outputs are written atomically at exactly the path asked for."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys

import pytest

from conftest import ROOT, run_gradscope
from gradscope.capture import Capture
from gradscope.commands import load_capture
from gradscope.errors import CaptureError

IMG = "<img src=x onerror=alert(1)>"
MARKUP = "[bold]"
QUOTE = 'q"uote\\'
FUNC = "[red]Evil</script><script>alert(2)"

HOSTILE_SCRIPT = f'''
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.add_module({IMG!r}, torch.nn.Linear(2, 2))
        self.add_module({MARKUP!r}, torch.nn.Linear(2, 2))
        self.add_module({QUOTE!r}, torch.nn.Linear(2, 1))

    def forward(self, x):
        for child in self.children():
            x = child(x)
        return x


Evil = type({FUNC!r}, (torch.autograd.Function,), {{
    "forward": staticmethod(lambda ctx, x: x * 2),
    "backward": staticmethod(lambda ctx, g: g * 2),
}})
model = Net()
x = torch.ones(1, 2)
loss = Evil.apply(model(x)).sum()
loss.backward()
'''


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """Trace a script whose module names, Function name and folder are markup, once, to every format."""
    folder = tmp_path_factory.mktemp("sec") / "dir[bold]<b>"
    folder.mkdir()
    script = folder / "evil.py"
    script.write_text(HOSTILE_SCRIPT)
    outs = {ext: folder / f"out.{ext}" for ext in ("json", "txt", "dot", "svg", "html")}
    proc = run_gradscope("trace", "--json", outs["json"], *[a for ext in ("txt", "dot", "svg", "html")
                                                              for a in ("-o", outs[ext])], script)
    assert proc.returncode == 0, proc.stderr
    return proc, {ext: path.read_text(encoding="utf-8") for ext, path in outs.items()}


def test_terminal_report_and_tree_show_markup_literally(hostile):
    proc, files = hostile
    for text in (proc.stderr, files["txt"]):
        assert f"model.{MARKUP}" in text  # rich did not swallow "[bold]" as a style
        assert f"model.{IMG}" in text
        assert f"model.{QUOTE}" in text
        assert "\x1b[" not in text  # and produced no escape sequences of its own from user text


def test_json_keeps_user_strings_exactly(hostile):
    _, files = hostile
    data = json.loads(files["json"])
    names = {t["param_name"] for t in data["tensors"] if t["param_name"]}
    assert {f"model.{IMG}.weight", f"model.{MARKUP}.bias", f"model.{QUOTE}.weight"} <= names
    assert FUNC + "Backward" in {n["name"] for n in data["nodes"]}
    Capture.loads(files["json"])  # and it reads back


def test_graph_outputs_escape_user_strings(hostile):
    _, files = hostile
    for ext in ("svg", "html"):
        text = files[ext]
        assert "<img src=x" not in text and "</script><script>alert(2)" not in text, ext
        assert "onerror=alert(1)" in text.replace("&#61;", "=").replace("\\u003d", "="), ext  # shown, escaped
    assert files["svg"].count("<svg") == 1
    dot = files["dot"]
    assert 'q"uote' not in dot.replace('\\"', "")  # quotes inside DOT strings are escaped
    proc = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "syntax error" not in proc.stderr  # the DOT still parses


def test_capture_loading_never_executes_code(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "capture.json"
    path.write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(CaptureError):
        load_capture(str(path))
    path.write_text(json.dumps({"format_version": 1, "script": "__import__('os').system('touch pwned')",
                                "tensors": [{"id": 0, "name": "eval('1')"}]}))
    import builtins

    from gradscope.render.tree import render_text

    def forbidden(*args, **kwargs):
        raise AssertionError("capture loading executed code")

    for module, name in [(pickle, "loads"), (pickle, "load"), (builtins, "eval"), (builtins, "exec")]:
        monkeypatch.setattr(module, name, forbidden)
    capture = load_capture(str(path))  # plain data: the strings stay strings
    render_text(capture)
    monkeypatch.undo()
    assert capture.tensors[0].name == "eval('1')"
    assert not marker.exists()
    # rendering a capture never imports torch (so never torch.load)
    code = ("import sys; from gradscope.cli import main\n"
            "try:\n    main(['render', sys.argv[1], '-o', sys.argv[2]])\nexcept SystemExit as e:\n"
            "    assert e.code == 0, e.code\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "t.txt")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_a_failed_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    from gradscope import output

    capture = Capture(script="s.py")
    target = tmp_path / "out.json"
    target.write_text("previous")
    # a failure while the new file is being put in place leaves the old file whole, and no temp file
    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output.os, "replace", fail)
    with pytest.raises(Exception) as info:
        output.write_output(capture, str(target), "json")
    assert "No space left" in str(info.value)
    monkeypatch.undo()
    assert target.read_text() == "previous"
    assert os.listdir(tmp_path) == ["out.json"]
    # symlinks, FIFOs and devices are written through as the shell would: tests/test_outputs.py


def test_relative_output_paths_stay_where_asked_when_the_script_changes_directory(tmp_path):
    from conftest import SCRIPTS

    (tmp_path / "sub").mkdir()
    proc = run_gradscope("trace", "--quiet", "--json", "c.json", "-o", "t.txt", SCRIPTS / "chdir.py", "sub",
                         cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(tmp_path / "sub")
    assert sorted(os.listdir(tmp_path)) == ["c.json", "sub", "t.txt"] and os.listdir(tmp_path / "sub") == []
