"""Facts come from where code lives, not from names (issue 12): the same script gets the same labels,
lines, warnings and traceback whether it is called train.py, grad_mode.py, torch/overrides.py or
torch/nn/utils/clip_grad.py, or kept under a folder called site-packages; each compared with what
python and PyTorch say about it."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import SCRIPTS, run_python, trace_json

SCRIPT = SCRIPTS / "where_code_lives.py"
# Named like torch's grad-mode machinery, its __torch_function__ detour, its gradient clipping; kept in a
# folder named like installed packages' (the old rules matched those names and suffixes).
PLACES = ["grad_mode.py", "torch/overrides.py", "torch/nn/utils/clip_grad.py", "site-packages/proj/train.py"]


def _place(root, relative):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(SCRIPT, path)
    return path


def _facts(capture):
    """What the capture says, minus the script's name."""
    tensors = {t["id"]: t for t in capture["tensors"]}
    exc = capture["exit"]["exception"]
    return {
        "variables": {name: {k: tensors[tid][k] for k in ("kind", "line", "cut_line", "cut_op", "requires_grad",
                                                          "is_leaf", "scope")}
                      for name, tid in capture["variables"].items()},
        "warnings": [(w["category"], w["line"], w["file"] is not None) for w in capture["warnings"]],
        "events": sorted((e["kind"], e.get("op"), e.get("line"), e.get("cut")) for e in capture["events"]),
        "clip_max_norm": capture["grad_health"]["clip_max_norm"],
        "exception": (exc["type"], exc["line"], [(f["function"], f["line"]) for f in exc["frames"]]),
        "diagnostics": capture["diagnostics"],
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    path = _place(tmp, "train.py")
    proc, capture = trace_json(path, tmp_path=tmp)
    assert proc.returncode == 1, proc.stderr
    return _facts(capture)


def test_the_reference_labels_match_pytorch(reference):
    python = run_python(SCRIPT)
    torch_says = json.loads(python.stdout)
    variables = reference["variables"]
    for name, facts in torch_says.items():
        assert {k: variables[name][k] for k in facts} == facts, name
    assert {name: v["kind"] for name, v in variables.items()} == {
        "w": "leaf", "scaled": "no_grad", "evaluated": "no_grad", "detached": "detached", "copied": "constant",
        "hidden": "nonleaf", "loss": "nonleaf"}
    assert variables["scaled"]["cut_line"] == 10 and variables["evaluated"]["cut_line"] == 19
    assert [line for _, line, _ in reference["warnings"]] == [21, 23]  # torch.tensor(t), then mse_loss's
    assert reference["clip_max_norm"] == 1.0 and reference["exception"][0] == "ValueError"


@pytest.mark.parametrize("relative", PLACES)
def test_a_script_named_like_library_code_is_still_the_users(reference, relative, tmp_path):
    path = _place(tmp_path / "project", relative)
    python = run_python(path)
    proc, capture = trace_json(path, tmp_path=tmp_path)
    assert proc.returncode == python.returncode == 1
    assert proc.stdout == python.stdout  # PyTorch's own facts, printed by the script
    assert proc.stderr == python.stderr  # the warnings at the script's lines, the whole traceback
    assert _facts(capture) == reference


def test_a_buffer_is_a_constant_not_a_detach(tmp_path):
    """nn.Buffer(t) detaches t inside torch: a library's detach of a constant is not the user's cut."""
    script = SCRIPTS / "buffers.py"
    proc, capture = trace_json(script, tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    torch_says = json.loads(run_python(script).stdout)
    tensors = {t["id"]: t for t in capture["tensors"]}
    buffers = {t["name"]: t for t in capture["tensors"] if t["name"] in ("net.scale", "net.shift")}
    for name in ("net.scale", "net.shift"):
        assert {k: buffers[name][k] for k in ("requires_grad", "is_leaf")} == torch_says[name] \
            == {"requires_grad": False, "is_leaf": True}
        assert buffers[name]["kind"] == "constant" and buffers[name]["cut_op"] is None, buffers[name]
        assert buffers[name]["detached_from"] is None
    own = tensors[capture["variables"]["own"]]  # the user's own detach of a constant: still the user's
    assert own["kind"] == "detached" and own["cut_line"] == 22 and torch_says["own"]["requires_grad"] is False
    assert not [e for e in capture["edges"] if e["cut"] == "detached" and e["line"] != 22]
    assert not [e for e in capture["events"] if e.get("op") == "detach" and e.get("line") != 22]
