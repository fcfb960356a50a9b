"""Unusual but legitimate scripts: each is traced in-process and its capture compared with what
PyTorch itself reported inside the script (tests/scripts/_facts.py writes those facts)."""

from __future__ import annotations

import json
import math

import msgspec
import pytest

from conftest import SCRIPTS


def trace(tmp_path, name, *args):
    from gradscope import runner
    from gradscope.api import trace_target

    facts = tmp_path / f"{name}.facts.json"
    result = trace_target(runner.resolve_script(str(SCRIPTS / f"{name}.py")), [str(facts), *map(str, args)])
    assert result.exit_code == 0, result.capture.exit
    return result.capture, (json.loads(facts.read_text()) if facts.exists() else None)


def find(capture, name):
    """The tensor a script variable (or a parameter's attribute name) ends up as."""
    hits = [t for t in capture.tensors if t.alive and name in (t.name, t.param_name)]
    if not hits:  # a parameter given by its attribute name: must be unambiguous
        hits = [t for t in capture.tensors if (t.param_name or "").endswith("." + name)]
        assert len(hits) == 1, f"{name}: {[t.param_name for t in hits]}"
    assert hits, f"no live tensor named {name}"
    return hits[-1]


def same_as_torch(capture, facts, skip=()):
    for name, fact in facts["tensors"].items():
        if name in skip:
            continue
        t = find(capture, name)
        got = {"requires_grad": t.requires_grad, "is_leaf": t.is_leaf, "grad_fn": t.grad_fn,
               "grad_is_none": t.grad_is_none, "dtype": t.dtype, "device": t.device}
        want = {k: fact[k] for k in got}
        assert got == want, name
        if fact["grad"] is not None and t.grad_values is not None:
            assert len(t.grad_values) == len(fact["grad"]) and all(
                math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6) for a, b in zip(t.grad_values, fact["grad"])), name


def roots(capture):
    by_id = {t.id: t for t in capture.tensors}
    return [(by_id[r.tensor].name, r.call, r.line, r.calls) for r in capture.roots]


def upstream(capture, tensor):
    """Names of tensors whose data flows into `tensor` (transitively)."""
    into = {}
    for e in capture.edges:
        into.setdefault(e.dst, []).append(e.src)
    seen, todo = set(), [tensor.vid]
    while todo:
        v = todo.pop()
        for src in into.get(v, []):
            if src not in seen:
                seen.add(src)
                todo.append(src)
    by_vid = {t.vid: t for t in capture.tensors}
    return {by_vid[v].param_name or by_vid[v].name for v in seen if v in by_vid}


def test_script_that_never_calls_backward(tmp_path):
    capture, facts = trace(tmp_path, "no_backward")
    same_as_torch(capture, facts)
    assert capture.backward_calls == 0
    assert roots(capture) == [("y", "implicit", 5, 1)]
    assert upstream(capture, find(capture, "y")) == {"x", None}  # x, through the unnamed product


def test_backward_in_function_method_and_10000_step_loop_with_bounded_capture(tmp_path):
    small, _ = trace(tmp_path, "backward_places", 10)
    capture, facts = trace(tmp_path, "backward_places", 10_000)
    same_as_torch(capture, facts, skip={"loss"})
    assert capture.backward_calls == 2 + 10_000
    assert roots(capture) == [("loss", "backward", 12, 1), ("loss", "backward", 18, 1),
                              ("loss", "backward", 26, 10_000)]
    # the first graph of each call site is kept, the others are counted: size does not grow with steps
    # a few more digits; the gradient-norm series are bounded apart (at most 512 points per series)
    without_norms = [msgspec.structs.replace(c, grad_health=None).dumps() for c in (small, capture)]
    assert len(without_norms[1]) <= len(without_norms[0]) + 64
    assert all(len(s.series) <= 512 for site in capture.grad_health.sites for s in site.series)
    assert len(capture.tensors) == len(small.tensors)


def test_backward_inside_threads(tmp_path):
    capture, _ = trace(tmp_path, "threads")
    assert capture.backward_calls == 2 and roots(capture) == [("loss", "backward", 14, 2)]
    w = [t for t in capture.tensors if t.name == "w"]
    assert w and all(t.scope == "work" and t.kind == "leaf" for t in w)
    assert upstream(capture, [t for t in capture.tensors if t.name == "loss"][0]) >= {"w"}


def test_double_backward(tmp_path):
    capture, facts = trace(tmp_path, "double_backward")
    same_as_torch(capture, facts)
    assert [(r.call, r.line) for r in capture.roots] == [("autograd.grad", 6), ("backward", 7)]
    assert facts["tensors"]["x"]["grad"] == [6.0, 12.0]  # d/dx sum(3x^2) = 6x: torch agrees with itself
    assert "x" in upstream(capture, find(capture, "g"))


def test_custom_autograd_function(tmp_path):
    capture, facts = trace(tmp_path, "custom_function")
    same_as_torch(capture, facts)
    made = [t for t in capture.tensors if t.grad_fn == facts["tensors"]["y"]["grad_fn"]]
    # bound as `result` inside forward, then as `y` by the caller: the caller's name wins
    assert [(t.name, t.kind, t.requires_grad) for t in made] == [("y", "nonleaf", True)]
    assert "MyExpBackward" in {n.name for n in capture.nodes}
    assert upstream(capture, find(capture, "loss")) >= {"x"}


def test_checkpoint_reentrant_and_not(tmp_path):
    capture, facts = trace(tmp_path, "checkpointed")
    same_as_torch(capture, facts)
    assert facts["same"]
    assert roots(capture) == [("a", "backward", 8, 1), ("b", "backward", 12, 1)]
    params = {t.param_name: t.grads for t in capture.tensors if t.is_parameter}
    assert params == {"lin.weight": [True, True], "lin.bias": [True, True]}


def test_meta_complex_float64_and_sparse_tensors(tmp_path):
    capture, facts = trace(tmp_path, "dtypes_devices")
    same_as_torch(capture, facts)
    assert capture.backward_calls == 4 and len(capture.roots) == 4


def test_torch_compile_does_not_crash_and_is_labelled(tmp_path):
    capture, facts = trace(tmp_path, "compiled")
    same_as_torch(capture, facts, skip={"loss"})
    assert roots(capture) == [("loss", "backward", 22, 2)]
    assert upstream(capture, capture.tensor(capture.roots[0].tensor)) >= {"w", "model.0.weight", "model.2.bias"}
    assert "CompiledFunctionBackward" in {n.name for n in capture.nodes}  # aot_eager: one opaque node
    from gradscope.render.tree import render_text

    from gradscope.render.dot import render_dot

    note = "region: the ops inside it are not visible to gradscope"  # (DOT escapes the quote before it)
    assert note in render_text(capture, {"view": "graph"}) and note in render_dot(capture, {})  # and says so


def test_tensor_subclasses_and_parameters(tmp_path, capsys):
    capture, facts = trace(tmp_path, "subclasses")
    same_as_torch(capture, facts)
    assert "subclass calls 3 Logged" in capsys.readouterr().out  # our reads never reach its __torch_function__
    assert find(capture, "p").kind == "parameter" and find(capture, "base").kind == "leaf"


def test_gradscaler_style_backward_on_a_scaled_loss(tmp_path):
    capture, facts = trace(tmp_path, "scaler_backward")
    same_as_torch(capture, facts)
    (root,) = capture.roots
    assert (root.line, root.call) == (26, "backward")
    assert capture.tensor(root.tensor).grad_fn == "MulBackward0"  # the scaled loss
    assert upstream(capture, capture.tensor(root.tensor)) >= {"loss", "model.weight", "model.bias"}


def test_lightning_trainer_calls_backward(tmp_path):
    pytest.importorskip("pytorch_lightning", reason="test dependency pytorch-lightning (pyproject [test])")
    capture, facts = trace(tmp_path, "lightning_fit")
    same_as_torch(capture, facts)
    assert capture.backward_calls == facts["backwards"] == 3
    (root,) = capture.roots
    assert (root.line, root.calls) == (29, 3)  # reached from the user's trainer.fit(...) line
    names = {t.param_name for t in capture.tensors if t.is_parameter}
    assert names == {f"model.{n}" for n in facts["params"]}
    assert upstream(capture, capture.tensor(root.tensor)) >= names


def test_a_graph_built_in_two_threads_is_walked_whole(tmp_path):
    """Nodes of different threads share sequence numbers (torch counts them per thread): both branches
    are still walked, and the labels and gradients agree with torch's."""
    capture, facts = trace(tmp_path, "graph_from_threads")
    seq_a, seq_b = facts["sequence_nrs"]
    assert seq_a == seq_b  # what makes this script a test of the walk: torch gave both branches one number
    same_as_torch(capture, facts)
    names = sorted(n.name for n in capture.nodes)
    assert names.count("SinBackward0") == names.count("MulBackward0") == names.count("AccumulateGrad") == 2
    loss = find(capture, "loss")
    assert upstream(capture, loss) >= {"x", "y", "a", "b"}
