"""The module view and the graph report on five real-size models (tests/scripts/models/), traced
end to end as a user would: the report fits a screen, frozen modules say so with the line that
froze them, identical blocks fold, elision never hides a cut, constants are never drawn as cuts."""

from __future__ import annotations

import re

import pytest

from conftest import SCRIPTS, run_gradscope

from gradscope.analyse.statuses import CUT_KINDS, GRAD_KINDS
from gradscope.capture import Capture

MODELS = SCRIPTS / "models"
NAMES = ["resnet_frozen_stem", "gan_step", "tiny_gpt", "lstm_seq2seq", "lora"]
WIDTH = 120
LINE_BUDGET = 50


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
    assert re.search(r"^G\s+Sequential\s+6 trainable\s+✗✓\s*$", report, re.M), report
    assert re.search(r"^D\s+Sequential\s+6 trainable\s+✓✓\s*$", report, re.M), report
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
