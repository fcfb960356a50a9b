"""Every sample, traced by gradscope, compared with what PyTorch itself reports for it.

The oracle (tests/oracle.py) runs the same script under plain python and dumps is_leaf,
requires_grad, grad_fn and .grad for its variables and parameters; the kinds that PyTorch has no
word for (detached, no_grad, constant) are checked against the label contract and the seed
document's explanations.
"""

from __future__ import annotations

import ast
import json
import sys

import pytest

from conftest import SAMPLES, run_python, trace_json

SEED_KINDS = {
    "requires_grad_basics.py": {"x": "leaf", "y": "constant", "y1": "nonleaf"},
    "backward_without_grad.py": {"x": "leaf", "y": "constant", "y1": "nonleaf"},
    "integer_requires_grad.py": {"a": "constant"},
    "detach.py": {"x": "nonleaf", "y": "leaf", "z": "leaf", "z1": "detached", "x1": "detached", "y1": "nonleaf"},
    "detach_shares_storage.py": {"z": "leaf", "z1": "detached"},
    "gan_detach.py": {"y": "leaf", "z": "leaf", "z1": "detached", "z2": "nonleaf", "y1": "nonleaf"},
    "no_grad.py": {"x": "leaf", "y1": "nonleaf", "y2": "no_grad", "y3": "no_grad", "y4": "nonleaf"},
    "no_grad_vs_detach.py": {"x": "leaf", "y1": "nonleaf", "y2": "detached", "y3": "detached", "y4": "nonleaf"},
    "freeze_before_optimizer.py": {"images": "constant", "labels": "constant", "loss": "nonleaf"},
    "freeze_after_optimizer.py": {"images": "constant", "labels": "constant", "loss": "nonleaf"},
    "training_loop.py": {},
}

# The gradients the seed document prints (its results are test oracles).
SEED_GRADS = {
    "requires_grad_basics.py": {"x": [2.0, 2.0], "y": None},
    "detach.py": {"y": [2.0, 2.0], "z": None, "z1": None},
    "gan_detach.py": {"y": [3.0, 3.0], "z1": None},
    "no_grad.py": {"x": [2.0, 4.0]},
    "no_grad_vs_detach.py": {"x": [2.0, 4.0]},
}


_CACHE: dict[str, tuple] = {}


def _traced(sample, tmp_path):
    """Trace the sample and run the oracle once per test session (both are subprocesses)."""
    if sample not in _CACHE:
        proc, capture = trace_json(SAMPLES / sample, tmp_path=tmp_path)
        assert capture is not None, proc.stderr
        oracle_path = tmp_path / "oracle.json"
        plain = run_python("tests/oracle.py", SAMPLES / sample, oracle_path)
        oracle = json.loads(oracle_path.read_text())
        _CACHE[sample] = (proc, capture, oracle, plain)
    return _CACHE[sample]


def _assignment_lines(source: str) -> dict[str, set[int]]:
    lines: dict[str, set[int]] = {}
    for node in ast.walk(ast.parse(source)):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.For)):
            targets = [node.target]
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    lines.setdefault(name.id, set()).add(node.lineno)
    return lines


@pytest.mark.parametrize("sample", sorted(SEED_KINDS))
def test_sample_agrees_with_pytorch(sample, tmp_path):
    proc, capture, oracle, plain = _traced(sample, tmp_path)
    tensors = {t["id"]: t for t in capture["tensors"]}

    # the script behaved as under plain python
    expected_code = 1 if oracle["error"] else 0
    assert proc.returncode == expected_code, proc.stderr
    assert capture["exit"]["code"] == expected_code
    if oracle["error"]:
        assert capture["exit"]["exception"]["type"] == oracle["error"]["type"]
        assert capture["exit"]["exception"]["message"] == oracle["error"]["message"]
        assert capture["exit"]["exception"]["line"] == oracle["error"]["line"]

    # every top-level tensor variable: the facts torch reports
    assert set(capture["variables"]) == set(oracle["variables"])
    for name, facts in oracle["variables"].items():
        t = tensors[capture["variables"][name]]
        assert t["name"] == name
        for key in ("requires_grad", "is_leaf", "grad_fn", "grad_is_none", "shape", "dtype", "is_parameter"):
            assert t[key] == facts[key], (name, key)
        if facts["grad"] is not None:
            assert t["grad_values"] == pytest.approx(facts["grad"]), name

    # every parameter of every top-level module, with its qualified name
    params = {t["param_name"]: t for t in capture["tensors"] if t["param_name"]}
    for pname, facts in oracle["params"].items():
        t = params[pname]
        assert t["kind"] == ("parameter" if facts["requires_grad"] else "frozen"), pname
        assert t["grad_is_none"] == facts["grad_is_none"], pname
        if facts["grad"] is not None:
            assert t["grad_values"] == pytest.approx(facts["grad"]), pname

    # the label contract, for the kinds torch has no attribute for
    for name, kind in SEED_KINDS[sample].items():
        assert tensors[capture["variables"][name]]["kind"] == kind, name

    # names sit on the lines where the script assigns them
    source = (SAMPLES / sample).read_text()
    assigned = _assignment_lines(source)
    for t in capture["tensors"]:
        if t["name"] and t["scope"] is None and t["file"] == sample and not t["param_name"]:
            assert t["line"] in assigned.get(t["name"], set()), (t["name"], t["line"])


@pytest.mark.parametrize("sample", sorted(SEED_GRADS))
def test_seed_printed_gradients(sample, tmp_path):
    _, capture, _, _ = _traced(sample, tmp_path)
    tensors = {t["id"]: t for t in capture["tensors"]}
    for name, grad in SEED_GRADS[sample].items():
        t = tensors[capture["variables"][name]]
        if grad is None:
            assert t["grad_is_none"] is True, name
        else:
            assert t["grad_values"] == pytest.approx(grad), name


def test_detach_records_source_and_line(tmp_path):
    """x1 = x.detach() where x = x * 2: x1 comes from the product (line 11), cut at line 13."""
    _, capture, _, _ = _traced("detach.py", tmp_path)
    tensors = {t["id"]: t for t in capture["tensors"]}
    by = lambda name: tensors[capture["variables"][name]]
    x1, z1 = by("x1"), by("z1")
    assert (x1["cut_op"], x1["cut_line"]) == ("detach", 13)
    source = tensors[x1["detached_from"]]
    assert (source["name"], source["line"], source["grad_fn"]) == ("x", 11, "MulBackward0")
    assert tensors[z1["detached_from"]]["name"] == "z"
    # both bindings of x exist: the original leaf (line 8), which got no gradient, and the product
    xs = sorted((t["line"], t["kind"]) for t in capture["tensors"] if t["name"] == "x")
    assert xs == [(8, "leaf"), (11, "nonleaf")]
    leaf_x = next(t for t in capture["tensors"] if t["name"] == "x" and t["line"] == 8)
    assert leaf_x["grads"] == [False] and leaf_x["grad_is_none"] is True
    # the cut edge x -> x1 says why, and where
    edge = next(e for e in capture["edges"] if e["src"] == f"t{source['id']}" and e["dst"] == f"t{x1['id']}")
    assert edge["flows_grad"] is False and edge["reason"] == "detach() · line 13"


def test_no_grad_lines(tmp_path):
    _, capture, _, _ = _traced("no_grad.py", tmp_path)
    tensors = {t["id"]: t for t in capture["tensors"]}
    for name in ("y2", "y3"):
        t = tensors[capture["variables"][name]]
        assert t["cut_line"] == 6 and t["requires_grad"] is False
    root = capture["roots"][0]
    assert tensors[root["tensor"]]["name"] == "y4" and root["line"] == 14 and root["call"] == "backward"


def test_backward_error_root(tmp_path):
    _, capture, _, _ = _traced("backward_without_grad.py", tmp_path)
    root = capture["roots"][0]
    t = next(t for t in capture["tensors"] if t["id"] == root["tensor"])
    assert t["name"] == "y" and root["line"] == 10
    assert "does not require grad" in root["raised"]


def test_training_loop_roots_and_names(tmp_path):
    """A loop calling backward 12 times records one graph, counts the calls, names the parameters."""
    _, capture, _, _ = _traced("training_loop.py", tmp_path)
    assert capture["backward_calls"] == 12
    assert len(capture["roots"]) == 1
    root = capture["roots"][0]
    assert root["calls"] == 12 and root["step"] == 1
    source = (SAMPLES / "training_loop.py").read_text().splitlines()
    assert source[root["line"] - 1].strip() == "loss.backward()"
    loss = next(t for t in capture["tensors"] if t["id"] == root["tensor"])
    assert (loss["name"], loss["scope"]) == ("loss", "train")
    names = sorted(t["param_name"] for t in capture["tensors"] if t["param_name"])
    assert names == sorted(f"model.{p}.{w}" for p in ("body.0", "body.2", "head") for w in ("weight", "bias"))
    assert all(t["grads"] == [True] for t in capture["tensors"] if t["param_name"])
    assert capture["optimizers"] and capture["optimizers"][0]["name"] == "optimizer"
    assert len(capture["optimizers"][0]["params"]) == 6


def test_frozen_parameter_and_optimizer(tmp_path):
    for sample, held in (("freeze_before_optimizer.py", 5), ("freeze_after_optimizer.py", 6)):
        _, capture, oracle, _ = _traced(sample, tmp_path)
        frozen = [t for t in capture["tensors"] if t["kind"] == "frozen"]
        assert [t["param_name"] for t in frozen] == ["cnn.conv1.0.weight"]
        assert frozen[0]["grads"] == [False] and frozen[0]["grad_is_none"] is True
        assert len(capture["optimizers"][0]["params"]) == held
        # the frozen weight still appears as a (cut) input of its convolution
        cut = [e for e in capture["edges"] if e["src"] == f"t{frozen[0]['id']}"]
        assert cut and all(not e["flows_grad"] and e["cut"] == "frozen" for e in cut)
