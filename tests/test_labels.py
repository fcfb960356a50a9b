"""The label contract on a script with one tensor of every kind, checked against PyTorch's facts."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, SCRIPTS, run_python, trace_json

# name -> kind, by the contract's rules (first that applies)
EXPECTED = {
    "leaf": "leaf",
    "data": "constant",
    "scaled": "constant",  # ops on constants
    "hidden": "nonleaf",
    "picked": "nondiff",  # argmax of a tensor that requires grad
    "positive": "nondiff",  # comparison
    "detached": "detached",
    "via_data": "detached",  # the .data getter
    "frozen_out": "no_grad",  # user's `with torch.no_grad()`
    "chained": "no_grad",  # through a chain of no_grad ops
    "evaluated": "no_grad",  # the user's own @torch.no_grad() function
    "infer": "inference",
    "bias_only": "constant",  # computed from a frozen parameter only
    "grads": "nondiff",  # returned by autograd.grad without create_graph
    "ckpt": "constant",  # a reentrant checkpoint whose input does not require grad
    "loss": "nonleaf",
}


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kinds")
    proc, capture = trace_json(SCRIPTS / "kinds.py", tmp_path=tmp)
    assert proc.returncode == 0, proc.stderr
    run_python("tests/oracle.py", SCRIPTS / "kinds.py", tmp / "oracle.json")
    return capture, json.loads((tmp / "oracle.json").read_text())


def test_every_kind(traced):
    capture, _ = traced
    tensors = {t["id"]: t for t in capture["tensors"]}
    got = {name: tensors[tid]["kind"] for name, tid in capture["variables"].items()}
    assert {name: got.get(name) for name in EXPECTED} == EXPECTED


def test_facts_match_pytorch(traced):
    capture, oracle = traced
    tensors = {t["id"]: t for t in capture["tensors"]}
    for name, facts in oracle["variables"].items():
        t = tensors[capture["variables"][name]]
        for key in ("requires_grad", "is_leaf", "grad_fn", "grad_is_none", "shape", "dtype"):
            assert t[key] == facts[key], (name, key)


def test_parameters_and_optimizer_step(traced):
    """optimizer.step() runs under grad-off internally: it must not relabel anything as no_grad."""
    capture, oracle = traced
    params = {t["param_name"]: t for t in capture["tensors"] if t["param_name"]}
    for pname, facts in oracle["params"].items():
        assert params[pname]["kind"] == ("parameter" if facts["requires_grad"] else "frozen")
        assert params[pname]["grad_is_none"] == facts["grad_is_none"]
    assert params["net.0.bias"]["kind"] == "frozen"
    # two recorded calls: autograd.grad gives .grad to nobody; backward reaches the trainable ones
    assert [r["call"] for r in capture["roots"]] == ["autograd.grad", "backward"]
    assert params["net.0.weight"]["grads"] == [False, True]
    assert params["net.0.bias"]["grads"] == [False, False]
    leaf = next(t for t in capture["tensors"] if t["name"] == "leaf")
    assert leaf["grads"] == [True, True]


def test_no_grad_lines_point_at_user_code(traced):
    capture, _ = traced
    tensors = {t["id"]: t for t in capture["tensors"]}
    source = (SCRIPTS / "kinds.py").read_text().splitlines()
    for name in ("frozen_out", "chained"):
        line = tensors[capture["variables"][name]]["cut_line"]
        assert source[line - 1].strip() == "with torch.no_grad():"
    evaluated = tensors[capture["variables"]["evaluated"]]
    assert "evaluate(leaf)" in source[evaluated["cut_line"] - 1]
    infer = tensors[capture["variables"]["infer"]]  # like no_grad: the line that entered inference_mode
    assert source[infer["cut_line"] - 1].strip() == "with torch.inference_mode():"


def test_in_place_activations_are_attributed_to_their_own_module(tmp_path):
    """nn.ReLU(inplace=True) makes a ReluBackward0 node inside `act`, not in the next module, and
    F.leaky_relu(..., inplace=True) one made by that line: each module's output node has the grad_fn
    class PyTorch gave that module's output."""
    facts = tmp_path / "facts.json"
    proc, capture = trace_json(SCRIPTS / "inplace_activation.py", facts, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    made = json.loads(facts.read_text())["made"]
    assert made["act"] == "ReluBackward0"
    by_module: dict = {}
    for node in capture["nodes"]:
        by_module.setdefault(node["module"], set()).add(node["name"])
    for t in capture["tensors"]:
        if t["grad_fn"]:
            by_module.setdefault(t["module"], set()).add(t["grad_fn"])
    for module, grad_fn in made.items():
        assert grad_fn in by_module.get(f"model.{module}", set()), (module, grad_fn, by_module)
    # made by Block.forward's own line, so in `model` itself, not in `out` (the next module)
    lines = (SCRIPTS / "inplace_activation.py").read_text().splitlines()
    [leaky] = [n for n in capture["nodes"] if n["name"] == "LeakyReluBackward1"]
    assert leaky["module"] == "model" and "F.leaky_relu" in lines[leaky["line"] - 1]


def test_no_cut_edge_between_tensors_that_carry_gradient(tmp_path):
    """An argmax token fed back while `logits` is rebound each step: the edges drawn to show where the
    token came from never mark the parameter -> logits input as a cut (both require grad in torch)."""
    script = ROOT / "tests" / "diagnosis" / "correct" / "greedy_decoding_feedback.py"
    proc, capture = trace_json(script, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    tensors = {f"t{t['id']}": t for t in capture["tensors"]}
    cuts = [e for e in capture["edges"] if not e["flows_grad"]]
    assert any(e["cut"] == "nondiff" for e in cuts)  # the argmax itself is a cut
    wrong = [e for e in cuts if e["src"] in tensors and e["dst"] in tensors
             and tensors[e["src"]]["requires_grad"] and tensors[e["dst"]]["requires_grad"]]
    assert not wrong


def test_a_deep_frozen_backbone_is_drawn_down_to_its_input(tmp_path):
    """Every frozen layer of a 12-layer backbone, and the input batch, are in the capture's graph."""
    proc, capture = trace_json(SCRIPTS / "frozen_deep_backbone.py", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    tensors = {f"t{t['id']}": t for t in capture["tensors"]}
    in_graph = {e["src"] for e in capture["edges"]} | {e["dst"] for e in capture["edges"]}
    drawn = {tensors[v]["param_name"] or tensors[v]["name"] for v in in_graph if v in tensors}
    frozen = {t["param_name"] for t in capture["tensors"] if t["param_name"] and t["kind"] == "frozen"}
    assert len(frozen) == 24 and frozen <= drawn
    assert "x" in drawn
    assert not [d for d in capture["dropped"] if d["what"] == "cut_origins"]
