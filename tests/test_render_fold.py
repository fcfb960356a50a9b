"""Large and repeated graphs: folding of unrolled loops, --max-nodes, 20,000 nodes without recursion."""

from __future__ import annotations

import re
import sys

from conftest import SCRIPTS

from gradscope.capture import Capture, EdgeInfo, NodeInfo, RootInfo, TensorInfo
from gradscope.render.dot import render_dot
from gradscope.render.drawing import build
from gradscope.render.registry import render


def _trace(script, *args, capsys):
    from gradscope.api import trace_target
    from gradscope.runner import resolve_script

    result = trace_target(resolve_script(str(script)), [str(a) for a in args])
    out = capsys.readouterr().out
    assert result.exit_code == 0
    return result.capture, out


def _repeat_counts(dot: str) -> list[int]:
    return [int(n) for n in re.findall(r"<B>×(\d+)</B> repeated step", dot)]


def test_rnn_5000_steps_folds_to_one_step(capsys):
    """The picture of 5,000 steps is one folded step (its time is measured in bench/: rnn_svg)."""
    steps = 5000
    capture, out = _trace(SCRIPTS / "rnn_unrolled.py", steps, capsys=capsys)
    assert out.split()[0] == str(steps)
    # PyTorch's own graph has one TanhBackward0 per step: that is the real number of steps
    assert sum(1 for n in capture.nodes if n.name == "TanhBackward0") == steps
    svg = render(capture, "svg", {})
    dot = render_dot(capture, {})
    assert _repeat_counts(dot) == [steps]
    assert f"×{steps}" in svg.decode("utf-8")
    drawing = build(capture, {})
    assert len(drawing.vertices) < 30  # one step drawn, not 35,000 vertices
    # the step's hidden state feeds the next step: a back edge, not 4,999 copies
    assert any(e.back == 1 for e in drawing.edges)


def test_fold_count_matches_steps_and_unfold_draws_them_all(capsys):
    steps = 7
    capture, _ = _trace(SCRIPTS / "rnn_unrolled.py", steps, capsys=capsys)
    hidden = [t for t in capture.tensors if t.name == "h" and t.grad_fn == "TanhBackward0"]
    assert len(hidden) == steps
    assert _repeat_counts(render_dot(capture, {})) == [steps]
    unfolded = render_dot(capture, {"unfold": True})
    assert _repeat_counts(unfolded) == []
    assert sum(f"t{t.id} [" in unfolded for t in hidden) == steps


def test_a_plain_python_loop_folds_too(capsys):
    steps = 100
    capture, _ = _trace(SCRIPTS / "plain_loop.py", steps, capsys=capsys)
    assert sum(1 for n in capture.nodes if n.name == "TanhBackward0") == steps
    drawing = build(capture, {})
    assert [run.count for run in drawing.runs.values()] == [steps]
    assert len(drawing.vertices) == 6  # w, the starting x, one step (mul, add, tanh), the root sum
    first = [e for e in drawing.edges if e.label and "step 1 only" in e.label]
    assert len(first) == 1 and first[0].status == "constant"  # only step 1 reads the constant start value


def test_a_loop_over_layers_folds_by_module_index(capsys):
    capture, _ = _trace(SCRIPTS / "transformer6.py", capsys=capsys)
    layers = {m["name"] for m in capture.modules if re.fullmatch(r"encoder\.layers\.\d+", m["name"])}
    assert len(layers) == 6
    counts = _repeat_counts(render_dot(capture, {}))
    # layer 0 reads the input x (no grad), the other five are identical: five folded, one drawn apart
    assert counts == [5]
    assert render_dot(capture, {"unfold": True}).count("· TransformerEncoderLayer>") == 6
    by_depth = render_dot(capture, {"module_depth": 3})
    assert len(re.findall(r"shape=box3d.*label=<<B>encoder\.layers\.\d</B>", by_depth)) == 2


def _chain(n: int) -> Capture:
    """A 20,000-deep chain: every op on its own line, so nothing repeats."""
    tensors = [TensorInfo(id=0, name="x", kind="leaf", requires_grad=True, shape=[1], dtype="float32", file="s.py",
                          line=1, node=0)]
    nodes = [NodeInfo(id=0, name="AccumulateGrad", variable=0)]
    edges = []
    for i in range(1, n):
        tensors.append(TensorInfo(id=i, kind="nonleaf", requires_grad=True, is_leaf=False, grad_fn="MulBackward0",
                                  shape=[1], dtype="float32", file="s.py", line=i + 1, op="mul", node=i))
        nodes.append(NodeInfo(id=i, name="MulBackward0", tensor=i, file="s.py", line=i + 1, op="mul", next=[i - 1]))
        edges.append(EdgeInfo(src=f"t{i - 1}", dst=f"t{i}"))
    return Capture(script="s.py", tensors=tensors, nodes=nodes, edges=edges, roots=[RootInfo(tensor=n - 1, line=n)])


def test_20000_nodes_to_dot_without_recursion():
    capture = _chain(20000)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        dot = render_dot(capture, {"max_nodes": 100000})
    finally:
        sys.setrecursionlimit(old)
    assert len(re.findall(r"^\s*t\d+ \[id=", dot, re.M)) == 20000
    assert dot.count(" -> t") >= 19999


def test_max_nodes_elides_with_an_explicit_count():
    capture = _chain(300)
    dot = render_dot(capture, {"max_nodes": 50})
    drawn = re.findall(r"^\s*t(\d+) \[id=", dot, re.M)
    assert len(drawn) == 50
    assert "299" in drawn  # the root is kept; the nodes nearest it come first
    assert "250 nodes elided" in dot
    assert re.search(r"^\s*elided -> t250 ", dot, re.M)
