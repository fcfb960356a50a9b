"""Findings against what PyTorch actually did.

Every sample is traced once in-process (gradscope's claims) and run once plainly (PyTorch's facts:
the exception it raised, the warnings it gave, the tensors it left behind). The table says which
findings each sample must give, with the source text of the culprit line (the first line cited).
Correct scripts must give no error or warning.
"""

from __future__ import annotations

import ast
import json
import re
import runpy
import warnings
from pathlib import Path

import pytest
import torch

from gradscope.analyse.findings import find_all
from gradscope.api import trace_target
from gradscope.capture import Capture
from gradscope.runner import resolve_script

SAMPLES = Path(__file__).resolve().parent.parent / "samples"

# sample -> [(code, severity, text on the culprit line or None)]
EXPECTED = {
    "findings/gs101_backward_no_grad_fn.py": [("GS101", "error", "@torch.no_grad()")],
    "findings/gs201_module_never_called.py": [("GS201", "warning", "self.proj = nn.Linear")],
    "findings/gs202_aux_loss_left_out.py": [("GS202", "warning", "aux_loss = nn.functional.l1_loss")],
    "findings/gs203_detached_features.py": [("GS203", "warning", "encoder(x).detach()")],
    "findings/gs204_checkpoint_no_grad_input.py": [("GS204", "warning", "checkpoint(block1, x")],
    "findings/gs301_nonleaf_grad_read.py": [("GS301", "warning", "w = w * 0.1")],
    "findings/gs302_late_retain_grad.py": [("GS302", "warning", "hidden.retain_grad()")],
    "findings/gs401_integer_requires_grad.py": [("GS401", "error", "tokens.requires_grad_(True)")],
    "findings/gs501_inplace_saved.py": [("GS501", "error", "gate.mul_(0.5)")],
    "findings/gs502_inplace_saved_lucky.py": [("GS502", "warning", "scores.div_(")],
    "findings/gs503_data_inplace_silent.py": [("GS503", "error", "p.data.clamp_(")],
    "findings/gs601_inference_tensor.py": [("GS601", "error", "with torch.inference_mode():")],
    "findings/gs701_loss_target_grad.py": [("GS701", "warning", "soft_targets = F.softmax(teacher(x)"),
                                           ("GS802", "warning", "teacher = nn.Sequential")],
    "findings/gs801_optimizer_audit.py": [("GS801", "info", "p.requires_grad_(False)"),
                                          ("GS802", "warning", "temperature = nn.Parameter")],
    # seed situations
    "backward_without_grad.py": [("GS101", "error", "y = torch.tensor([3.0, 4.0], requires_grad=False)")],
    "detach.py": [("GS301", "warning", "x = x * 2"), ("GS203", "info", "z1 = z.detach()"),
                  ("GS203", "info", "x1 = x.detach()")],
    "gan_detach.py": [("GS301", "warning", "print(z2.grad)"), ("GS203", "info", "z1 = z.detach()")],
    "integer_requires_grad.py": [("GS401", "error", "b = torch.tensor([3, 4], requires_grad=True)")],
    "freeze_after_optimizer.py": [("GS801", "info", "cnn.conv1[0].weight.requires_grad = False")],
    "freeze_before_optimizer.py": [("GS205", "info", "param.requires_grad = False")],
    "no_grad.py": [],
    "no_grad_vs_detach.py": [],
    "requires_grad_basics.py": [],
    "detach_shares_storage.py": [],
    # correct training scripts: nothing above info
    "training_loop.py": [],
    "correct/tbptt.py": [("GS206", "info", "hidden = hidden.detach()")],
    "correct/gan_step.py": [("GS206", "info", "D(fake.detach())")],
    "correct/custom_function.py": [],
    "correct/gradient_penalty.py": [("GS802", "info", "generator = nn.Sequential")],
    "correct/validation_with_grad.py": [],
}


class Run:
    """One sample: gradscope's findings (traced) and PyTorch's facts (plain run)."""

    def __init__(self, rel: str):
        self.path = SAMPLES / rel
        self.source = self.path.read_text().splitlines()
        result = trace_target(resolve_script(str(self.path)), [])
        self.capture = result.capture
        self.findings = find_all(self.capture)
        self.namespace = {"__name__": "__main__", "__file__": str(self.path)}
        self.error, self.error_line = None, None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                exec(compile(self.path.read_text(), str(self.path), "exec"), self.namespace)
            except Exception as exc:  # noqa: BLE001 - the sample's own error is a fact to compare
                self.error = exc
                tb = exc.__traceback__
                while tb is not None:
                    if tb.tb_frame.f_code.co_filename == str(self.path):
                        self.error_line = tb.tb_lineno
                    tb = tb.tb_next
        self.warnings = [w for w in caught if w.filename == str(self.path)]

    def line_of(self, text: str) -> int:
        """The first line of code (after the docstring) containing `text`."""
        body = ast.parse("\n".join(self.source)).body
        start = body[0].end_lineno if isinstance(body[0], ast.Expr) else 0
        hits = [i + 1 for i, line in enumerate(self.source) if i >= start and text in line]
        assert hits, f"{text!r} not in {self.path.name}"
        return hits[0]

    def get(self, name: str):
        """A tensor of the plain run by the name gradscope used (`x`, `model.proj.weight`)."""
        if name in self.namespace and isinstance(self.namespace[name], torch.Tensor):
            return self.namespace[name]
        top, _, rest = name.partition(".")
        module = self.namespace[top]
        return module.get_parameter(rest)

    def one(self, code: str):
        found = [f for f in self.findings if f.code == code]
        assert found, f"no {code} in {[f.code for f in self.findings]}"
        return found[0]


_RUNS: dict[str, Run] = {}


def run(rel: str) -> Run:
    if rel not in _RUNS:
        torch.manual_seed(0)
        _RUNS[rel] = Run(rel)
    return _RUNS[rel]


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_expected_findings(rel):
    r = run(rel)
    got = sorted((f.code, f.severity) for f in r.findings)
    assert got == sorted((c, s) for c, s, _ in EXPECTED[rel]), [(f.code, f.severity, f.title) for f in r.findings]
    for code, severity, culprit in EXPECTED[rel]:
        candidates = [f for f in r.findings if f.code == code and f.severity == severity]
        assert any(f.lines and f.lines[0] == r.line_of(culprit) for f in candidates), (
            code, culprit, [f.lines for f in candidates])
    for f in r.findings:
        assert f.title and f.message and f.fix and all(isinstance(n, int) for n in f.lines)
    # a saved capture gives the same findings (`gradscope explain CAPTURE.json`)
    again = Capture.from_json(json.loads(json.dumps(r.capture.to_json())))
    assert find_all(again) == r.findings


@pytest.mark.parametrize("rel", [k for k, v in EXPECTED.items() if k.startswith(("correct/", "training"))])
def test_correct_scripts_have_no_error_or_warning(rel):
    r = run(rel)
    assert r.error is None
    assert [f for f in r.findings if f.severity in ("error", "warning")] == []


# -- each claim against PyTorch -------------------------------------------------------------------


def test_gs101_backward_really_raised_on_a_tensor_without_graph():
    for rel in ("findings/gs101_backward_no_grad_fn.py", "backward_without_grad.py"):
        r = run(rel)
        f = r.one("GS101")
        assert isinstance(r.error, RuntimeError) and "does not have a grad_fn" in str(r.error)
        assert r.error_line in f.lines
        name = f.tensors[0]
        t = r.namespace[name]
        assert t.grad_fn is None and not t.requires_grad


def test_gs101_names_the_no_grad_line():
    r = run("findings/gs101_backward_no_grad_fn.py")
    assert "no_grad" in r.one("GS101").message


@pytest.mark.parametrize("rel,code", [
    ("findings/gs201_module_never_called.py", "GS201"),
    ("findings/gs202_aux_loss_left_out.py", "GS202"),
    ("findings/gs203_detached_features.py", "GS203"),
    ("findings/gs204_checkpoint_no_grad_input.py", "GS204"),
    ("gan_detach.py", "GS203"),
])
def test_gs2xx_tensors_really_have_no_gradient(rel, code):
    r = run(rel)
    f = r.one(code)
    assert f.tensors
    named = set()
    for name in f.tensors:
        t = r.get(name)
        named.add(id(t))
        assert t.grad is None and t.requires_grad and t.is_leaf, name
    # the other parameters of the same model did get gradients: the finding singles out the right ones
    module = r.namespace[f.tensors[0].split(".")[0]]
    if isinstance(module, torch.nn.Module):
        others = [p for p in module.parameters() if id(p) not in named]
        assert all(p.grad is not None for p in others)


def test_gs202_names_the_loss_left_out_and_gs204_the_checkpoint():
    assert "aux_loss" in run("findings/gs202_aux_loss_left_out.py").one("GS202").message
    r = run("findings/gs204_checkpoint_no_grad_input.py")
    assert any("None of the inputs have requires_grad=True" in str(w.message) for w in
               warnings_of(r)), "PyTorch itself warned about the checkpoint"


def warnings_of(r: Run):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runpy.run_path(str(r.path), run_name="__main__")
    return caught


def test_gs301_matches_pytorchs_nonleaf_warning():
    for rel in ("findings/gs301_nonleaf_grad_read.py", "detach.py", "gan_detach.py"):
        r = run(rel)
        f = r.one("GS301")
        nonleaf = [w for w in r.warnings if "not a leaf" in str(w.message)]
        assert nonleaf, "PyTorch warned"
        assert {w.lineno for w in nonleaf} <= set(f.lines)
        t = r.namespace[f.tensors[0]]
        assert not t.is_leaf and t.grad is None


def test_gs302_retain_grad_came_too_late():
    r = run("findings/gs302_late_retain_grad.py")
    hidden = r.namespace[r.one("GS302").tensors[0]]
    assert hidden.retains_grad and hidden.grad is None
    hidden2 = r.namespace["model"][1](r.namespace["model"][0](r.namespace["x"]))
    hidden2.retain_grad()
    r.namespace["model"][2](hidden2).pow(2).mean().backward()
    assert hidden2.grad is not None  # in the right order it works


def test_gs401_integer_dtype_really_raised():
    for rel in ("findings/gs401_integer_requires_grad.py", "integer_requires_grad.py"):
        r = run(rel)
        f = r.one("GS401")
        assert isinstance(r.error, RuntimeError) and "floating point" in str(r.error)
        assert f.lines[0] == r.error_line
        assert "int64" in f.title
    r = run("findings/gs401_integer_requires_grad.py")
    tokens = r.namespace["tokens"]
    assert tokens.dtype == torch.int64 and "vectors" in r.one("GS401").tensors
    assert r.namespace["vectors"].requires_grad and r.namespace["vectors"].is_floating_point()


def test_gs501_inplace_error_really_raised_at_the_backward_line():
    r = run("findings/gs501_inplace_saved.py")
    f = r.one("GS501")
    assert isinstance(r.error, RuntimeError) and "modified by an inplace operation" in str(r.error)
    assert r.error_line == f.lines[-1]
    assert r.line_of("torch.sigmoid") in f.lines


def test_gs502_backward_would_really_raise():
    r = run("findings/gs502_inplace_saved_lucky.py")
    assert r.error is None
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        r.namespace["val_loss"].backward()


def test_gs503_gradient_is_really_silently_wrong():
    r = run("findings/gs503_data_inplace_silent.py")
    assert r.error is None and r.one("GS503").tensors
    source = r.path.read_text()
    head, _, _ = source.partition("for p in critic.parameters():")
    ns: dict = {}
    exec(compile(head, str(r.path), "exec"), ns)
    params = list(ns["critic"].parameters())
    honest = torch.autograd.grad(ns["loss"], params, retain_graph=True)
    for p in params:
        p.data.clamp_(-0.01, 0.01)
    ns["loss"].backward()  # what the script does: no error...
    named = {n for n, _ in ns["critic"].named_parameters()}
    flagged = [n.split(".", 1)[1] for n in r.one("GS503").tensors]
    assert set(flagged) <= named
    # ...and a gradient that is neither the honest one nor computed from any consistent forward
    assert any(not torch.allclose(g, p.grad) for g, p in zip(honest, params))


def test_gs601_inference_tensor_really_raised():
    r = run("findings/gs601_inference_tensor.py")
    f = r.one("GS601")
    assert isinstance(r.error, RuntimeError) and "Inference tensors" in str(r.error)
    assert r.error_line in f.lines
    assert r.namespace["features"].is_inference() if "features" in r.namespace else True
    assert f.tensors == ["features"]


def test_gs701_gradient_really_reached_the_teacher():
    r = run("findings/gs701_loss_target_grad.py")
    f = r.one("GS701")
    target = r.namespace[f.tensors[0]]
    assert target.requires_grad
    assert all(p.grad is not None for p in r.namespace["teacher"].parameters())


def test_gs80x_optimizer_audit_matches_the_optimizer():
    r = run("findings/gs801_optimizer_audit.py")
    opt = r.namespace["optimizer"]
    held = [p for g in opt.param_groups for p in g["params"]]
    frozen = [p for p in held if not p.requires_grad]
    assert re.search(rf"holds {len(frozen)} frozen", r.one("GS801").title)
    temperature = r.namespace["temperature"]
    assert all(p is not temperature for p in held) and temperature.grad is not None
    assert r.one("GS802").tensors == ["temperature"]


GS101_VARIANTS = {
    "frozen": ("""import torch
from torch import nn
net = nn.Linear(3, 1)
for p in net.parameters():
    p.requires_grad_(False)
out = net(torch.randn(2, 3)).sum()
out.backward()
""", "p.requires_grad_(False)", "frozen parameters"),
    "detached": ("""import torch
w = torch.randn(3, requires_grad=True)
y = (w * 2).detach()
loss = y.sum()
loss.backward()
""", "y = (w * 2).detach()", "detach() at line 3"),
    "later_call": ("""import torch
w = torch.randn(3, requires_grad=True)
for i in range(3):
    out = (w * i).sum()
    if i == 2:
        out = out.detach()
    out.backward()
""", "out = out.detach()", "detach() at line 6"),  # the failing third call is recorded, not only the first
}


@pytest.mark.parametrize("variant", sorted(GS101_VARIANTS))
def test_gs101_says_why_the_tensor_has_no_graph(variant, tmp_path):
    source, culprit, reason = GS101_VARIANTS[variant]
    path = tmp_path / f"{variant}.py"
    path.write_text(source)
    (finding,) = find_all(trace_target(resolve_script(str(path)), []).capture)
    with pytest.raises(RuntimeError, match="does not require grad"):
        exec(compile(source, str(path), "exec"), {"__name__": "__main__"})
    assert finding.code == "GS101" and finding.severity == "error"
    assert reason in finding.message
    assert source.splitlines()[finding.lines[0] - 1].strip() == culprit


def test_gs205_gs206_info_matches_pytorch():
    r = run("freeze_before_optimizer.py")
    (name,) = r.one("GS205").tensors
    p = r.get(name)
    assert not p.requires_grad and p.grad is None
    assert all(q is not p for g in r.namespace["optimizer"].param_groups for q in g["params"])
    for rel, model in (("correct/gan_step.py", "G"), ("correct/tbptt.py", "rnn")):
        r = run(rel)
        f = r.one("GS206")
        assert sorted(f.tensors) == sorted(f"{model}.{n}" for n, _ in r.namespace[model].named_parameters())
        assert all(r.get(n).grad is not None for n in f.tensors)  # they do get gradients elsewhere
