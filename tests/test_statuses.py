"""Cut statuses computed once in analyse/statuses.py, on hand-built captures (no torch), and how the
tree and the DOT read them: only real cuts are cuts, constants are quiet, elision names its cuts."""

from __future__ import annotations

import re

from gradscope.analyse.statuses import compute, describe_cuts
from gradscope.capture import Capture, EdgeInfo, InplaceEvent, RootInfo, TensorInfo
from gradscope.render.dot import render_dot
from gradscope.render.tree import render_text


def _t(tid, kind, name=None, **kw):
    return TensorInfo(id=tid, name=name, kind=kind, requires_grad=kind in ("parameter", "leaf", "nonleaf"),
                      is_leaf=kind != "nonleaf", grad_fn="AddBackward0" if kind == "nonleaf" else None,
                      shape=[2], dtype="float32", line=kw.pop("line", 10 + tid), **kw)


def _detach_capture() -> Capture:
    """x (leaf) -> x2 = x*2 -> x1 = x2.detach() -> c = x1*3 (constant) -> y = w*data + c (root)."""
    tensors = [
        _t(0, "leaf", "x"),
        _t(1, "nonleaf", "x2", op="mul"),
        _t(2, "detached", "x1", detached_from=1, cut_op="detach", cut_line=13, op="detach"),
        _t(3, "constant", None, op="mul"),
        _t(4, "constant", "data", op="randn"),
        _t(5, "leaf", "w"),
        _t(6, "nonleaf", "y", op="add"),
    ]
    edges = [
        EdgeInfo("t0", "t1"),
        EdgeInfo("t1", "t2", False, "detach() · line 13", "detached", 13),
        EdgeInfo("t2", "t3", False, None, "constant", None),
        EdgeInfo("t3", "t6", False, "requires_grad=False", "constant", None),
        EdgeInfo("t4", "t6", False, "requires_grad=False", "constant", None),
        EdgeInfo("t5", "t6"),
    ]
    return Capture(script="s.py", tensors=tensors, edges=edges, roots=[RootInfo(tensor=6, line=20, step=1)])


def test_detach_is_the_cut_and_what_follows_is_a_constant_behind_it():
    st = compute(_detach_capture())
    assert st.vertex("t2").status == "cut" and st.vertex("t2").cut.reason == "detach() · line 13"
    assert st.vertex("t3").status == "constant" and st.vertex("t3").behind == ["t2"]
    assert st.vertex("t4").status == "constant" and st.vertex("t4").behind == []  # plain data
    assert st.edge("t1", "t2").status == "cut"  # gradient that existed is removed here
    assert st.edge("t2", "t3").status == "cut"
    assert st.edge("t3", "t6").status == "constant"
    assert st.edge("t4", "t6").status == "constant"
    assert st.edge("t0", "t1").status == "grad"
    assert list(st.cuts) == ["t2"]


def test_tree_marks_only_real_cuts_and_folds_plain_constants():
    text = render_text(_detach_capture())
    cut_lines = [line for line in text.splitlines() if "✂" in line]
    assert cut_lines and all("detach() · line 13" in line for line in cut_lines)
    assert "requires_grad=False" not in text
    assert re.search(r"· constant input \(no gradient, nothing cut\): data$", text, re.M)
    assert "(no gradient: detach() · line 13)" in text  # the constant behind the cut says why


def test_dot_dashes_only_cut_edges():
    dot = render_dot(_detach_capture(), {})
    edges = [line for line in dot.splitlines() if "->" in line and "legend" not in line]
    dashed = [line for line in edges if "dashed" in line]
    assert {line.split("[")[0].strip() for line in dashed} == {"t1 -> t2", "t2 -> t3"}
    assert all("detach() · line 13" in line for line in dashed)
    assert any(line.startswith("  t4 -> t6") and "#9e9e9e" in line for line in edges)


def _frozen_stem_capture(depth: int) -> Capture:
    """stem (2 modules, all frozen at line 44) -> constant -> a chain of `depth` non-leaves -> root."""
    tensors = [_t(0, "frozen", param_name="model.stem.0.weight", is_parameter=True),
               _t(1, "frozen", param_name="model.stem.1.weight", is_parameter=True),
               _t(2, "constant", "images", op="randn"),
               _t(3, "constant", None, op="conv2d"),
               _t(4, "parameter", param_name="model.head.weight", is_parameter=True)]
    edges = [EdgeInfo("t0", "t3", False, None, "constant"), EdgeInfo("t1", "t3", False, None, "constant"),
             EdgeInfo("t2", "t3", False, None, "constant")]
    prev = "t3"
    for i in range(depth):
        tid = 5 + i
        tensors.append(_t(tid, "nonleaf", op="relu"))
        edges.append(EdgeInfo(prev, f"t{tid}", prev != "t3", None if prev != "t3" else "requires_grad=False",
                              None if prev != "t3" else "constant"))
        edges.append(EdgeInfo("t4", f"t{tid}"))
        prev = f"t{tid}"
    modules = [{"name": "model", "type": "Net", "params": []},
               {"name": "model.stem", "type": "Sequential", "params": []},
               {"name": "model.stem.0", "type": "Conv2d", "params": [0]},
               {"name": "model.stem.1", "type": "BatchNorm2d", "params": [1]},
               {"name": "model.head", "type": "Linear", "params": [4]}]
    for t in tensors:  # what the one recorded backward gave each parameter
        if t.is_parameter:
            t.grads = [t.kind == "parameter"]
    events = [InplaceEvent(op="Tensor.requires_grad=", tensor=t, line=44) for t in (0, 1)]
    return Capture(script="s.py", tensors=tensors, edges=edges, modules=modules, events=events,
                   roots=[RootInfo(tensor=int(prev[1:]), line=50, step=1)])


def test_frozen_parameters_are_cut_and_roll_up_to_the_frozen_module():
    st = compute(_frozen_stem_capture(3))
    assert {c.module for c in st.cuts.values()} == {"model.stem"}
    assert {c.line for c in st.cuts.values()} == {44}
    assert describe_cuts(list(st.cuts.values())) == "frozen model.stem · line 44"
    assert st.edge("t0", "t3").status == "cut" and st.edge("t2", "t3").status == "constant"
    assert st.vertex("t3").behind == ["t0", "t1"]


def test_elision_says_which_cuts_it_hides():
    text = render_text(_frozen_stem_capture(8), {"depth": 3, "view": "graph"})
    elided = [line for line in text.splitlines() if "more vertices" in line]
    assert len(elided) == 1 and "frozen model.stem · line 44" in elided[0], text
    assert re.search(r"… \d+ more vertices", elided[0])
    full = render_text(_frozen_stem_capture(8), {"depth": 100, "view": "graph"})
    assert "more vertices" not in full and full.count("frozen") >= 2


def test_an_input_that_required_grad_only_later_is_not_called_a_cut():
    """z[0] = w: z required grad only after the in-place write; an op that used it before got no gradient
    from it, and nothing was cut there (the contradictory `nonleaf ... [cut: requires_grad=False]`)."""
    tensors = [_t(0, "nonleaf", "z", op="zeros"), _t(1, "leaf", "w"), _t(2, "nonleaf", "y", op="mul")]
    edges = [EdgeInfo("t0", "t2", False, "requires_grad=False", "nonleaf"), EdgeInfo("t1", "t2")]
    capture = Capture(script="s.py", tensors=tensors, edges=edges, roots=[RootInfo(tensor=2, line=9, step=1)])
    st = compute(capture)
    assert st.edge("t0", "t2").status == "constant" and st.edge("t0", "t2").note
    text = render_text(capture)
    assert "[cut" not in text and "did not require grad when used" in text


def test_detaching_a_constant_cuts_nothing():
    tensors = [_t(0, "constant", "data", op="randn"),
               _t(1, "detached", "d", detached_from=0, cut_op="detach", cut_line=5),
               _t(2, "leaf", "w"), _t(3, "nonleaf", "y", op="mul")]
    edges = [EdgeInfo("t0", "t1", False, "detach() · line 5", "detached", 5),
             EdgeInfo("t1", "t3", False, "detach() · line 5", "detached", 5), EdgeInfo("t2", "t3")]
    st = compute(Capture(script="s.py", tensors=tensors, edges=edges, roots=[RootInfo(tensor=3)]))
    assert not st.cuts and st.edge("t1", "t3").status == "constant"


def test_module_view_is_the_default_for_models_and_says_frozen_with_the_line():
    text = render_text(_frozen_stem_capture(3))
    assert "Gradient flow by module" in text and "root " not in text
    assert re.search(r"^  model\.stem\s+Sequential\s+2 frozen · line 44\s+✗$", text, re.M), text
    assert "✂ frozen model.stem Sequential: 2 parameters (requires_grad=False) · line 44" in text
    both = render_text(_frozen_stem_capture(3), {"view": "all"})
    assert "Gradient flow by module" in both and "root " in both


def _no_grad_chain_capture() -> Capture:
    """Under one `with torch.no_grad():` at line 3: a = w*2, b = a+1, c = b*3; then y = w*c (root).
    Only a's making removed a gradient (its input w required grad; b's and c's inputs did not)."""
    made = dict(cut_op="no_grad", cut_line=3, user_no_grad=True)
    tensors = [
        _t(0, "leaf", "w"),
        _t(1, "no_grad", "a", op="mul", inputs_required_grad=True, **made),
        _t(2, "no_grad", "b", op="add", **made),
        _t(3, "no_grad", "c", op="mul", **made),
        _t(4, "nonleaf", "y", op="mul"),
    ]
    edges = [
        EdgeInfo("t0", "t1", False, "no_grad · line 3", "no_grad", 3),
        EdgeInfo("t1", "t2", False, None, "constant", None),
        EdgeInfo("t2", "t3", False, None, "constant", None),
        EdgeInfo("t0", "t4"),
        EdgeInfo("t3", "t4", False, None, "constant", None),
    ]
    return Capture(script="s.py", tensors=tensors, edges=edges, roots=[RootInfo(tensor=4, line=20, step=1)])


def test_a_no_grad_chain_is_drawn_cut_once_where_the_gradient_was_removed():
    text = render_text(_no_grad_chain_capture(), {"view": "graph"})
    assert [line.split("✂ ")[1].split()[0] for line in text.splitlines() if "✂" in line] == ["a", "w"]
    quiet = [line for line in text.splitlines() if "(no gradient: no_grad · line 3)" in line]
    assert [line.split("── ")[1].split()[0] for line in quiet] == ["c", "b"]  # named, said, not cut
    assert list(compute(_no_grad_chain_capture()).cuts) == ["t1", "t2", "t3"]  # the Cuts list keeps them
