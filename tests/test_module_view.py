"""The module view and the graph report on five real-size models (tests/scripts/models/), traced
end to end as a user would: the report fits a screen, frozen modules say so with the line that
froze them, identical blocks fold, elision never hides a cut, constants are never drawn as cuts."""

from __future__ import annotations

import json
import re

import pytest

from conftest import SCRIPTS, run_gradscope

from gradscope.analyse.statuses import CUT_KINDS, GRAD_KINDS
from gradscope.capture import Capture

MODELS = SCRIPTS / "models"
NAMES = ["resnet_frozen_stem", "gan_step", "tiny_gpt", "lstm_seq2seq", "lora"]
WIDTH = 120
LINE_BUDGET = 50
NORM = r"[0-9.]+(?:e[+-]\d+)?"  # a gradient norm as the view prints it (3 significant digits)


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """name -> (default report at 120 columns, capture); each model traced once."""
    tmp = tmp_path_factory.mktemp("models")
    out = {}
    for name in NAMES:
        path = tmp / f"{name}.json"
        proc = run_gradscope("trace", "--json", path, MODELS / f"{name}.py", env={"COLUMNS": str(WIDTH)})
        assert proc.returncode == 0, proc.stderr
        out[name] = (proc.stderr, Capture.loads(path.read_text()), path)
    return out


def _line_of(script: str, pattern: str) -> int:
    lines = (MODELS / f"{script}.py").read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if re.search(pattern, text))


@pytest.mark.parametrize("name", NAMES)
def test_default_report_fits_one_screen(traced, name):
    report = traced[name][0]
    lines = report.splitlines()
    assert "Gradient flow by module" in report  # the module view is the default for models
    assert len(lines) <= LINE_BUDGET, report
    assert max(len(line) for line in lines) <= WIDTH, report


def test_frozen_stem_row_names_path_word_and_line(traced):
    report = traced["resnet_frozen_stem"][0]
    froze = _line_of("resnet_frozen_stem", r"p\.requires_grad = False")
    assert re.search(rf"^\s*model\.stem\s+Sequential\s+3 frozen · line {froze}\s+✗\s*$", report, re.M), report
    assert re.search(r"^\s*model\.blocks\.0–2\s+BasicBlock ×3\s+6 trainable each\s+✓\s*$", report, re.M), report
    assert f"✂ frozen model.stem Sequential: 3 parameters (requires_grad=False) · line {froze}" in report


def test_gan_generator_is_not_reached_by_the_discriminator_loss(traced):
    report, capture, _ = traced["gan_step"]
    detach = _line_of("gan_step", r"D\(fake\.detach\(\)\)")
    assert re.search(rf"^G\s+Sequential\s+6 trainable\s+✗✓\s+{NORM}\s*$", report, re.M), report
    assert re.search(rf"^D\s+Sequential\s+6 trainable\s+✓✓\s+{NORM}\s*$", report, re.M), report
    assert f"✂ detach() · line {detach}  fake.detach() → D.0" in report
    # the marks are the capture's per-backward facts about G's parameters
    g = [t for t in capture.tensors if (t.param_name or "").startswith("G.")]
    assert g and all(t.grads[:2] == [False, True] for t in g)


def test_frozen_attention_block_is_shown_inside_the_transformer(traced):
    report = traced["tiny_gpt"][0]
    froze = _line_of("tiny_gpt", r"requires_grad_\(False\)")
    assert re.search(rf"^\s+model\.h\.0\.attn\s+Attention\s+4 frozen · line {froze}\s+✗", report, re.M), report
    assert re.search(r"^\s+model\.h\.1\s+Block\s+12 trainable\s+✓", report, re.M), report


def test_lora_trainable_adapters_are_counted_in_folded_rows(traced):
    report = traced["lora"][0]
    assert re.search(r"model\.layers\.0–3\s+LoRALinear ×4\s+2 trainable · 2 frozen each", report), report
    assert re.search(r"model\.layers\.0–3\.base\s+Linear ×4\s+2 frozen each", report), report


@pytest.mark.parametrize("name", NAMES)
def test_graph_view_never_hides_a_cut(traced, name):
    """Every cut is printed, either as a ✂ line or named by the elision line that hides it."""
    _, capture, path = traced[name]
    text = run_gradscope("render", "--view", "graph", path).stdout
    from gradscope.analyse.statuses import compute

    for cut in compute(capture).cuts.values():
        assert cut.reason in text or (cut.module and f"frozen {cut.module}" in text), (cut, text)
    for line in text.splitlines():
        if "more vertices" in line:
            assert re.search(r"… \d+ more vertices", line)


@pytest.mark.parametrize("name", NAMES)
def test_no_cut_edge_from_a_constant(traced, name):
    _, capture, path = traced[name]
    dot = run_gradscope("render", "--format", "dot", "-o", "-", path).stdout
    kinds = {f"t{t.id}": t.kind for t in capture.tensors}
    for src, dst in re.findall(r"^\s*(\w+) -> (\w+) \[[^\]]*style=dashed", dot, re.M):
        if src.startswith("legend"):
            continue
        src_kind, dst_kind = kinds.get(src), kinds.get(dst)
        assert src_kind in CUT_KINDS or (dst_kind in CUT_KINDS and src_kind in GRAD_KINDS), (src, dst)
    running = {f"t{t.id}" for t in capture.tensors if t.name and "running_" in t.name}
    assert not [s for s, _ in re.findall(r"^\s*(\w+) -> (\w+) \[[^\]]*dashed", dot, re.M) if s in running]


NORMS_SCRIPT = SCRIPTS / "health_module_norms.py"


@pytest.mark.parametrize("step", [None, 4])
def test_norm_column_is_torchs_norm_after_the_recorded_call(tmp_path, step):
    """The script writes each module's gradient norm as torch computes it (p.grad.norm() put together)
    after every backward call; the view prints the one after the recorded call (the first, or --step N's),
    from the recorded norms (the 32x32 gradients are far too large for the capture to keep values)."""
    import json
    import math

    facts, out = tmp_path / "torch.json", tmp_path / "cap.json"
    extra = ["--step", str(step)] if step else []
    proc = run_gradscope("trace", "--no-findings", "--json", out, *extra, NORMS_SCRIPT, facts,
                         env={"COLUMNS": str(WIDTH)})
    assert proc.returncode == 0, proc.stderr
    want = json.loads(facts.read_text())[(step or 1) - 1]
    assert "grad norm after #1" in proc.stderr
    printed = {m.group(1): float(m.group(2)) for m in
               re.finditer(rf"^\s*(model[\w.]*)\s+\w+\s+\d+ trainable\s+✓\s+({NORM})\s*$", proc.stderr, re.M)}
    assert printed.keys() == want.keys(), proc.stderr
    for name, value in printed.items():
        assert float(f"{want[name]:.3g}") == pytest.approx(value, rel=1e-9), (name, value, want[name])
    # the capture holds them exactly: per parameter, after that call
    capture = Capture.loads(out.read_text())
    (site,) = capture.grad_health.sites
    assert site.recorded_call == (step or 1)
    from gradscope.analyse.norms import latest_norm, norm_history

    norms = norm_history(capture)
    model = next(m for m in capture.modules if m["name"] == "model.2.0")
    assert math.isclose(latest_norm(norms, model["params"]).value, want["model.2.0"], rel_tol=1e-5)
    assert all(t.grad_values is None for t in capture.tensors if t.param_name == "model.2.0.weight")


def _two_call_capture(format_6: bool = True) -> Capture:
    """Module `a` gets a gradient from call 1 only (None after call 2), `b` from both."""
    from gradscope.capture import GradHealth, NormSeries, NormSite, RootInfo, TensorInfo

    tensors = [TensorInfo(id=0, name="loss1", kind="nonleaf", is_leaf=False, grads=[None, None]),
               TensorInfo(id=1, name="loss2", kind="nonleaf", is_leaf=False, grads=[None, None]),
               TensorInfo(id=2, param_name="a.weight", kind="parameter", requires_grad=True, is_parameter=True,
                          shape=[64], module="a", grads=[True, False]),
               TensorInfo(id=3, param_name="b.weight", kind="parameter", requires_grad=True, is_parameter=True,
                          shape=[64], module="b", grads=[True, True])]

    def param(tid, name, value, call):
        return NormSeries(of="parameter", name=name, tensor=tid, first=value, last=value, min=value, max=value,
                          median=value, calls=1, series_calls=[call], series=[value],
                          recorded=value if format_6 else None)

    sites = [NormSite(file="s.py", line=5, calls=1, recorded_call=1 if format_6 else None,
                      series=[param(2, "a.weight", 3.0, 1), param(3, "b.weight", 4.0, 1)]),
             NormSite(file="s.py", line=9, calls=1, recorded_call=2 if format_6 else None,
                      series=[param(3, "b.weight", 0.5, 2)])]
    return Capture(script="s.py", tensors=tensors, backward_calls=2,
                   roots=[RootInfo(tensor=0, file="s.py", line=5, step=1),
                          RootInfo(tensor=1, file="s.py", line=9, step=2)],
                   modules=[{"name": "a", "type": "Linear", "params": [2]},
                            {"name": "b", "type": "Linear", "params": [3]}],
                   grad_health=GradHealth(norms=True, sites=sites))


@pytest.mark.parametrize("format_6", [True, False], ids=["format6", "format5"])
def test_a_module_the_last_call_left_no_gradient_shows_its_earlier_norm_marked(format_6):
    from gradscope.render.tree import render_text

    text = render_text(_two_call_capture(format_6), {"view": "module"})
    assert "grad norm after #2" in text
    assert re.search(r"^a\s+Linear\s+1 trainable\s+✓✗\s+3 \(#1\)\s*$", text, re.M), text
    assert re.search(r"^b\s+Linear\s+1 trainable\s+✓✓\s+0\.5\s*$", text, re.M), text


def test_a_module_never_called_whose_tied_weight_gets_gradient_says_so():
    """T5's `shared` embedding: its forward never runs, its weight (tied into the encoder's and the
    decoder's embeddings) gets a gradient. The row says both; a module whose parameters got nothing
    is still "never called"."""
    from gradscope.capture import RootInfo, TensorInfo
    from gradscope.render.tree import render_text

    tensors = [TensorInfo(id=0, name="loss", kind="nonleaf", is_leaf=False, grads=[None]),
               TensorInfo(id=1, param_name="shared.weight", kind="parameter", requires_grad=True, is_parameter=True,
                          shape=[8], module="shared", grads=[True]),
               TensorInfo(id=2, param_name="unused.weight", kind="parameter", requires_grad=True, is_parameter=True,
                          shape=[8], module="unused", grads=[False])]
    capture = Capture(script="s.py", tensors=tensors, backward_calls=1,
                      roots=[RootInfo(tensor=0, file="s.py", line=5, step=1)],
                      modules=[{"name": "shared", "type": "Embedding", "called": False, "params": [1]},
                               {"name": "unused", "type": "Linear", "called": False, "params": [2]}])
    text = render_text(capture, {"view": "module"})
    assert re.search(r"^shared\s+Embedding\s+1 trainable\s+✓ \(not called\)", text, re.M), text
    assert re.search(r"^unused\s+Linear\s+1 trainable\s+never called", text, re.M), text


def test_without_recorded_norms_the_column_says_at_exit():
    from gradscope.render.tree import render_text

    capture = _two_call_capture()
    capture.grad_health = None  # a capture from before format 5
    capture.tensors[2].grad_is_none, capture.tensors[2].grad_values = False, [3.0, 4.0]
    text = render_text(capture, {"view": "module"})
    assert "grad norm at exit" in text and re.search(r"^a\s+Linear.*\s5\s*$", text, re.M), text


SCREEN_PT = 1440  # issue 10: the ResNet, the GAN and a 2-layer GPT-2-shaped model fit this width at scale 1


@pytest.mark.parametrize("name", ["resnet_frozen_stem", "gan_step", "tiny_gpt"])
def test_default_picture_fits_a_screen_wide(traced, name, tmp_path):
    svg = tmp_path / f"{name}.svg"
    proc = run_gradscope("render", traced[name][2], "-o", svg)
    assert proc.returncode == 0, proc.stderr
    text = svg.read_text()
    width = float(re.search(r'<svg width="([0-9.]+)pt"', text).group(1))
    assert 'viewBox="' in text and "scale(1 1)" in text  # drawn at scale 1, not shrunk to fit
    assert width <= SCREEN_PT, f"{name}: {width} pt wide"


def _traced_with_facts(name: str, tmp_path):
    """(the report at WIDTH, what torch says of the script's tensors, the line of its torch.no_grad())."""
    script = SCRIPTS / name
    facts = tmp_path / "facts.json"
    proc = run_gradscope("trace", script, facts, env={"COLUMNS": str(WIDTH)})
    assert proc.returncode == 0, proc.stderr
    line = next(i for i, text in enumerate(script.read_text().splitlines(), 1) if "torch.no_grad()" in text)
    return proc.stderr, json.loads(facts.read_text())["tensors"], line


def _cut_lines(report: str) -> list[str]:
    return report.split("\nCuts\n", 1)[1].split("\nFindings", 1)[0].splitlines()


def test_cuts_made_on_one_line_under_no_grad_are_one_line(tmp_path):
    """A backbone under no_grad feeding the loss cuts every layer's result on that line: the named
    result gets its own line, the layers' unnamed results one line together (not one each)."""
    report, torch_says, line = _traced_with_facts("no_grad_features_head.py", tmp_path)
    assert torch_says["feats"]["requires_grad"] is False and torch_says["w0"]["grad_is_none"] is True
    assert torch_says["head_w"]["grad_is_none"] is False
    there = [c for c in _cut_lines(report) if f"no_grad · line {line} " in c]
    assert len(there) == 2, report
    assert re.search(rf"line {line}  feats → head$", there[0]), there
    grouped = re.search(r"line \d+  (\d+) unnamed results: (.*)$", there[1])
    assert grouped and int(grouped[1]) >= 2, there[1]
    assert "(linear) ×2" in grouped[2] and "backbone.2" in grouped[2], there[1]


def test_an_evaluation_under_no_grad_is_no_cut_of_the_training_graph(tmp_path):
    """Results made under no_grad that no backward call reads (an evaluation after training) are
    not drawn as cuts: one line at the end says where they were made, and how many."""
    report, torch_says, line = _traced_with_facts("eval_after_training.py", tmp_path)
    assert torch_says["preds"]["requires_grad"] is False and torch_says["loss"]["requires_grad"] is True
    cuts = _cut_lines(report)
    assert not [c for c in cuts if "✂" in c], cuts
    (outside,) = cuts
    found = re.search(rf"outside them \(evaluation, metrics\): no_grad · line {line} ×(\d+)$", outside)
    assert found and int(found[1]) >= 3, outside  # preds and the layers' results


def test_a_module_frozen_on_many_lines_says_how_many_more():
    from gradscope.analyse.modules import ModuleStatus
    from gradscope.render.module_view import _params

    m = ModuleStatus(name="model.backbone", type="Sequential", parent="model", frozen=5, frozen_lines=[3, 5, 7, 9, 11])
    assert _params(m, 1).plain == "5 frozen · lines 3, 5, 7 and 2 more"
    m.frozen_lines = [3, 5, 7]
    assert _params(m, 1).plain == "5 frozen · lines 3, 5, 7"


def test_deep_module_names_too_wide_for_the_console_are_named_relative_to_their_row():
    """A wrapped HF model's paths (`model.base_model.model.layers.0.self_attn.q_proj.lora_A`) do not fit
    120 columns: each row then names its module relative to the row it is indented under, and no cell
    is cut short (a cropped "line 12" would read "line 1"). Full names while they fit."""
    from gradscope.capture import RootInfo, TensorInfo
    from gradscope.render.tree import render_text

    prefix = "model.base_model.model.model.layers.0.self_attn.q_proj"
    names = [("base_layer.weight", False), ("lora_A.default.weight", True), ("lora_B.default.weight", True)]
    tensors = [TensorInfo(id=0, name="loss", kind="nonleaf", is_leaf=False, grads=[None])]
    for tid, (name, trainable) in enumerate(names, 1):
        tensors.append(TensorInfo(id=tid, param_name=f"{prefix}.{name}", kind="parameter" if trainable else "frozen",
                                  requires_grad=trainable, is_parameter=True, shape=[8], grads=[trainable],
                                  frozen_line=None if trainable else 12,
                                  module=f"{prefix}.{name.rsplit('.', 1)[0]}"))
    parts = prefix.split(".")
    modules = [{"name": ".".join(parts[:i]), "type": "Wrapper", "params": [1, 2, 3]} for i in range(1, len(parts) + 1)]
    modules += [{"name": f"{prefix}.base_layer", "type": "Linear", "params": [1]},
                {"name": f"{prefix}.lora_A", "type": "ModuleDict", "params": [2]},
                {"name": f"{prefix}.lora_A.default", "type": "Linear", "params": [2]},
                {"name": f"{prefix}.lora_B", "type": "ModuleDict", "params": [3]},
                {"name": f"{prefix}.lora_B.default", "type": "Linear", "params": [3]}]
    capture = Capture(script="s.py", tensors=tensors, backward_calls=1, modules=modules,
                      roots=[RootInfo(tensor=0, file="s.py", line=20, step=1)])
    wide = render_text(capture, {"view": "module"}, width=240)
    assert re.search(rf"^\s+{re.escape(prefix)}\.lora_A\.default\s+Linear\s+1 trainable\s+✓\s*$", wide, re.M), wide
    narrow = render_text(capture, {"view": "module"}, width=100)
    table = narrow.split("\nCuts\n")[0].splitlines()
    assert max(len(line) for line in table) <= 100, narrow
    assert re.search(r"^\s+lora_A\s+ModuleDict\s+1 trainable\s+✓\s*$", narrow, re.M), narrow
    assert re.search(r"^\s+default\s+Linear\s+1 trainable\s+✓\s*$", narrow, re.M), narrow
    assert re.search(r"^\s+base_layer\s+Linear\s+1 frozen · line 12\s+✗\s*$", narrow, re.M), narrow
    assert re.search(r"^model\s+Wrapper\s+2 trainable · 1 frozen · line 12\s+✓\s*$", narrow, re.M), narrow
    assert f"frozen {prefix}.base_layer Linear" in narrow  # the Cuts keep full names
