"""Hostile names: user strings must keep DOT valid and never become markup in SVG or HTML.

One real script (tests/scripts/hostile_names.py: a module named `<img src=x onerror=alert(1)>`,
a custom autograd.Function class named `</script><script>alert(1)</script>`, a module name with
quotes, braces, backslashes, `[bold]`, a newline and non-ASCII), plus a hand-built capture with
hostile text in every string field a picture shows (no torch for that one).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from conftest import SCRIPTS, trace_json

from gradscope.capture import Capture, EdgeInfo, NodeInfo, RootInfo, TensorInfo
from gradscope.render.registry import render

IMG = "<img src=x onerror=alert(1)>"
SCRIPT_CLOSE = "</script><script>alert(1)</script>"
ODD = 'q"uo\'te {brace} back\\slash [bold] new\nline ünï 模块 & amp'


def _need_dot():
    if shutil.which("dot") is None:
        pytest.fail("Graphviz's dot is not installed; `make test` installs it (apt-get install graphviz)")


def _check_outputs(capture: Capture, hostile: list[str]) -> None:
    dot = render(capture, "dot", {})
    _need_dot()
    proc = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr.decode()
    svg = render(capture, "svg", {}).decode("utf-8")
    page = render(capture, "html", {}).decode("utf-8")
    for text in (svg, page):
        assert "<img" not in text and "<script>alert" not in text
    # the page has exactly its own two script blocks; user text never closes one
    assert page.count("</script>") == 2 and page.count("<script") == 2
    data_block = re.search(r'<script type="application/json" id="gs-data">(.*?)</script>', page, re.S).group(1)
    assert "<" not in data_block and ">" not in data_block and "&" not in data_block
    data = json.loads(data_block)
    shown = "\n".join(_strings(data))
    svg_text = _svg_text(svg)
    for name in hostile:
        first_line = name.split("\n")[0]
        assert first_line in shown, name  # kept intact for the details panel
        visible = first_line if len(first_line) < 40 else first_line[:39]
        assert visible in svg_text, name  # and shown, as text, in the picture


def _strings(value) -> list[str]:
    out, stack = [], [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return out


def _svg_text(svg: str) -> str:
    import html

    return html.unescape(" ".join(re.findall(r"<text[^>]*>([^<]*)</text>", svg)))


def test_hostile_names_from_a_real_script(tmp_path):
    proc, data = trace_json(SCRIPTS / "hostile_names.py", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    capture = Capture.from_json(data)
    names = {n.name for n in capture.nodes}
    assert SCRIPT_CLOSE + "Backward" in names  # PyTorch's own name for the custom Function's node
    params = {t.param_name for t in capture.tensors if t.param_name}
    assert f"model.{IMG}.weight" in params and f"model.{ODD}.weight" in params
    _check_outputs(capture, [IMG, SCRIPT_CLOSE, ODD])


def test_hostile_text_in_every_field():
    bad = ['a"b', "c\\d", "{e}", "<f>&g", "h\ni", "[bold]j", "ü模\u202ek", SCRIPT_CLOSE, "\x00nul"]
    tensors, nodes, edges = [], [], []
    for i, s in enumerate(bad):
        tensors.append(TensorInfo(id=i, name=s, scope=s, kind="detached", shape=[2], dtype=s, file=s + ".py", line=i,
                                  op=s, cut_op="detach", cut_line=i, module=s, is_leaf=True))
    root = len(bad)
    tensors.append(TensorInfo(id=root, name=IMG, kind="nonleaf", requires_grad=True, is_leaf=False,
                              grad_fn=SCRIPT_CLOSE, file=IMG, line=1, node=0, module=f"{IMG}.{SCRIPT_CLOSE}"))
    nodes.append(NodeInfo(id=0, name=SCRIPT_CLOSE, tensor=root, file=IMG, line=1, op=IMG, module=IMG,
                          saved=[{"name": SCRIPT_CLOSE, "value": IMG}]))
    for i, s in enumerate(bad):
        edges.append(EdgeInfo(src=f"t{i}", dst=f"t{root}", flows_grad=False, reason=s, cut="detached", line=i))
    capture = Capture(script=f"{IMG}/{SCRIPT_CLOSE}.py", tensors=tensors, nodes=nodes, edges=edges,
                      roots=[RootInfo(tensor=root, file=IMG, line=1)],
                      modules=[{"name": IMG, "type": SCRIPT_CLOSE, "params": []},
                               {"name": f"{IMG}.{SCRIPT_CLOSE}", "type": IMG, "params": []}])
    capture = Capture.loads(capture.dumps())
    _check_outputs(capture, [IMG, SCRIPT_CLOSE, 'a"b', "c\\d", "{e}", "<f>&g", "[bold]j"])
    dot = render(capture, "dot", {}).decode("utf-8")
    assert "h\\ni" in dot and "\\x00nul" in dot and "\\u202e" in dot  # unprintables shown as escapes
    assert "\x00" not in dot and "\u202e" not in dot
