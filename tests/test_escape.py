"""Nothing from the script or a capture reaches the terminal unescaped: control characters are shown
as `\\x1b`, never sent."""

from __future__ import annotations

import json

from conftest import SCRIPTS, run_gradscope
from gradscope.capture import Capture, TensorInfo
from gradscope.escape import for_terminal, printable

CONTROLS = ("\x1b", "\x07", "\u202e")


def test_printable_shows_every_control_character():
    assert printable("a\x1b]0;t\x07b") == "a\\x1b]0;t\\x07b"
    assert printable("\x00\t\n\r\x7f\x85\u202e\u2066") == "\\x00\\t\\n\\r\\x7f\\x85\\u202e\\u2066"
    assert printable("plain ünïcode ✂ \\x1b") == "plain ünïcode ✂ \\x1b"


def test_for_terminal_escapes_every_string_of_a_capture_and_leaves_the_original():
    capture = Capture(script="s\x1b[2J.py", tensors=[TensorInfo(id=0, name="x", module="m\u202e\x9b")],
                      exit={"code": 1, "exception": {"type": "E\x07", "message": "a\\u001b\nb", "line": 1,
                                                     "file": None}})
    shown = for_terminal(capture)
    assert shown.script == "s\\x1b[2J.py" and shown.tensors[0].module == "m\\u202e\\x9b"
    assert shown.exit["exception"] == {"type": "E\\x07", "message": "a\\u001b\\nb", "line": 1, "file": None}
    assert capture.script == "s\x1b[2J.py"  # files still get what the script gave
    plain = Capture(script="s.py")
    assert for_terminal(plain) is plain


def test_report_render_and_explain_of_a_hostile_script_send_no_control_character(tmp_path):
    cap = tmp_path / "c.json"
    traced = run_gradscope("trace", "--view", "all", "--json", cap, SCRIPTS / "control_chars.py")
    assert traced.returncode == 1, traced.stderr
    data = json.loads(cap.read_text())
    assert any("\x1b]0;pwned\x07" in n["name"] for n in data["nodes"])  # the capture keeps the real names
    assert any("\x1b[2J" in m["name"] for m in data["modules"])
    report = traced.stderr[traced.stderr.index("gradscope control_chars.py"):]  # after the script's own traceback
    rendered = run_gradscope("render", "--view", "all", cap)
    explained = run_gradscope("explain", "--tensor", "y", cap)
    missing = run_gradscope("render", tmp_path / "no\x1b[2J.json")
    for proc in (rendered, explained, missing):
        assert "Traceback" not in proc.stderr
    for text in (report, rendered.stdout, rendered.stderr, explained.stderr, missing.stderr):
        assert not any(ch in text for ch in CONTROLS), repr(text[:2000])
    for shown in ("Evil\\x1b]0;pwned\\x07Backward", "net.layer\\x1b[2J\\u202e.weight", "raised Bad\\x1b[2J"):
        assert shown in rendered.stdout and shown in report, shown
    assert "no\\x1b[2J.json" in missing.stderr
