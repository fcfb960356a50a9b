"""Realistic training scripts (GAN, truncated BPTT, fine-tuning): the capture agrees with PyTorch."""

from __future__ import annotations

import json

import pytest

from conftest import SCRIPTS, run_python, trace_json

EXPECTED_KINDS = {
    "realistic_gan.py": {"real": "constant", "z": "constant", "fake": "nonleaf", "d_fake": "nonleaf",
                         "ones": "constant", "loss_d": "nonleaf", "loss_g": "nonleaf"},
    "realistic_bptt.py": {"h": "nonleaf", "seq": "constant", "loss": "nonleaf", "last": "nonleaf"},
    "realistic_finetune.py": {"features": "constant", "logits": "nonleaf", "loss": "nonleaf",
                              "predictions": "no_grad", "accuracy": "constant", "labels": "constant"},
}


@pytest.fixture(scope="module", params=sorted(EXPECTED_KINDS))
def traced(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("realistic")
    proc, capture = trace_json(SCRIPTS / request.param, tmp_path=tmp)
    assert proc.returncode == 0, proc.stderr
    run_python("tests/oracle.py", SCRIPTS / request.param, tmp / "oracle.json")
    return request.param, capture, json.loads((tmp / "oracle.json").read_text())


def test_variables_and_parameters_agree_with_pytorch(traced):
    script, capture, oracle = traced
    tensors = {t["id"]: t for t in capture["tensors"]}
    for name, facts in oracle["variables"].items():
        t = tensors[capture["variables"][name]]
        for key in ("requires_grad", "is_leaf", "grad_fn", "grad_is_none", "shape", "dtype"):
            assert t[key] == facts[key], (script, name, key)
    params = {t["param_name"]: t for t in capture["tensors"] if t["param_name"]}
    # each parameter is named through the variable holding its top-level module, a name that
    # exists in the script (the oracle lists every module variable's named_parameters)
    assert params and set(params) <= set(oracle["params"]), (script, set(params) - set(oracle["params"]))
    for pname, t in params.items():
        facts = oracle["params"][pname]
        assert t["kind"] == ("parameter" if facts["requires_grad"] else "frozen"), (script, pname)
        assert t["grad_is_none"] == facts["grad_is_none"], (script, pname)
        if facts["grad"] is not None:
            assert t["grad_values"] == pytest.approx(facts["grad"], rel=1e-5, abs=1e-7), (script, pname)


def test_kinds(traced):
    script, capture, _ = traced
    tensors = {t["id"]: t for t in capture["tensors"]}
    got = {name: tensors[capture["variables"][name]]["kind"] for name in EXPECTED_KINDS[script]}
    assert got == EXPECTED_KINDS[script]


def test_gan_cuts_and_receivers(tmp_path):
    proc, capture = trace_json(SCRIPTS / "realistic_gan.py", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    tensors = {t["id"]: t for t in capture["tensors"]}
    roots = [(tensors[r["tensor"]]["name"], r["calls"]) for r in capture["roots"]]
    assert roots == [("loss_d", 2), ("loss_g", 2)]
    by_param = {t["param_name"]: t for t in capture["tensors"] if t["param_name"]}
    # loss_d reaches only D (fake was detached); loss_g reaches G (and D, whose grads opt_g ignores)
    assert all(by_param[f"G.{i}.weight"]["grads"] == [False, True] for i in (0, 2))
    assert all(by_param[f"D.{i}.weight"]["grads"] == [True, True] for i in (0, 2))
    detach_edges = [e for e in capture["edges"] if e["cut"] == "detached" and e["reason"]]
    assert any(tensors[int(e["src"][1:])]["name"] == "fake" for e in detach_edges)
