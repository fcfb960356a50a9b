"""Gradient norms per backward call (issue 14): compared with torch.linalg.vector_norm, bounded,
stored in the capture, drawn by `render --format grads`."""

from __future__ import annotations

import json
import math
import statistics
import xml.etree.ElementTree as ET

import pytest

from gradscope.capture import Capture, GradHealth, NormSeries, NormSite
from conftest import SCRIPTS, run_gradscope, run_python, trace_json

REL = 1e-5


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """The oracle script traced by gradscope, and the norms it computed itself under plain python."""
    tmp = tmp_path_factory.mktemp("norms")
    plain = run_python(SCRIPTS / "health_norms_oracle.py", tmp / "torch.json")
    assert plain.returncode == 0, plain.stderr
    proc, capture = trace_json(SCRIPTS / "health_norms_oracle.py", tmp_path=tmp)
    assert proc.returncode == 0, proc.stderr
    return json.loads((tmp / "torch.json").read_text()), Capture.from_json(capture)


def _series(capture: Capture) -> dict[str, NormSeries]:
    (site,) = capture.grad_health.sites
    return {s.name: s for s in site.series if s.of == "parameter"}


def _close(a, b) -> bool:
    return abs(a - b) <= REL * max(abs(a), abs(b))


def test_norms_equal_torchs_own(oracle):
    torch_norms, capture = oracle
    ours = _series(capture)
    assert set(ours) == set(torch_norms)  # module parameters and the user's own leaf `scale`
    for name, values in torch_norms.items():
        s = ours[name]
        assert s.calls == len(values) == 60
        for got, want in ((s.first, values[0]), (s.last, values[-1]), (s.min, min(values)), (s.max, max(values))):
            assert _close(got, want), (name, got, want)
        assert len(s.series) == len(s.series_calls) == 60  # fewer calls than the bound: every call kept
        for call, got in zip(s.series_calls, s.series):
            assert _close(got, values[call - 1]), (name, call)
        assert _close(s.median, statistics.median(values))
        assert s.zeros == 0 and s.nonfinite == 0


def test_module_and_model_norms_aggregate_their_parameters(oracle):
    _, capture = oracle
    (site,) = capture.grad_health.sites
    params = _series(capture)
    modules = {s.name: s for s in site.series if s.of == "module"}
    assert set(modules) == {"model.0", "model.2"}
    for name, module in modules.items():
        mine = [p for p in params.values() if p.name.startswith(name + ".")]
        for i in range(len(module.series)):
            want = math.sqrt(sum(p.series[i] ** 2 for p in mine))
            assert _close(module.series[i], want)
    (model,) = [s for s in site.series if s.of == "model"]
    want = math.sqrt(sum(p.series[0] ** 2 for p in params.values()))
    assert _close(model.first, want)


def test_accumulation_is_told_apart_from_steps(oracle):
    _, capture = oracle
    health = capture.grad_health
    (site,) = health.sites
    assert health.optimizer_steps == 30
    assert site.calls == 60
    assert site.accumulated == 30  # the second micro-batch of each step adds to the first one's .grad
    updates = {capture.tensor(u.tensor).param_name or capture.tensor(u.tensor).name: u for u in health.updates}
    assert updates["scale"].steps_with_grad == 30 and updates["scale"].steps_changed == 30


def test_series_is_bounded_and_thinned_evenly():
    from gradscope.record.norms import SERIES_MAX, Series

    s = Series()
    for call in range(1, 5001):
        s.add(call, float(call))
    assert len(s.values) == len(s.at) <= SERIES_MAX
    assert s.first == 1.0 and s.last == 5000.0 and s.min == 1.0 and s.max == 5000.0 and s.calls == 5000
    gaps = {b - a for a, b in zip(s.at, s.at[1:])}
    assert len(gaps) == 1  # evenly spaced
    s.add(5001, float("nan"))
    s.add(5002, 0.0)
    assert s.nonfinite == 1 and s.first_nonfinite == 5001 and s.zeros == 1 and s.last == 0.0


def test_no_grad_norms_turns_them_off(tmp_path):
    proc, data = trace_json(SCRIPTS / "plain_loop.py", tmp_path=tmp_path, extra=("--no-grad-norms",))
    assert proc.returncode == 0, proc.stderr
    assert data["grad_health"]["norms"] is False and data["grad_health"]["sites"] == []


def test_old_captures_load_without_health():
    old = {"format_version": 1, "tensors": [], "backward_calls": 0}
    capture = Capture.from_json(old)
    assert capture.grad_health is None


def _hand_capture(name="enc.layer$1_") -> Capture:
    values = [1.0, 2.0, None, 4.0]
    series = [NormSeries(of="model", name="model", first=1.0, last=None, min=1.0, max=4.0, median=2.0, calls=4,
                         nonfinite=1, first_nonfinite=3, series_calls=[1, 2, 3, 4], series=values),
              NormSeries(of="module", name=name, first=0.0, last=0.0, min=0.0, max=0.0, median=0.0, calls=4,
                         zeros=4, series_calls=[1, 2, 3, 4], series=[0.0] * 4)]
    site = NormSite(file="train.py", line=7, calls=4, series=series)
    return Capture(script="train.py", backward_calls=4, grad_health=GradHealth(norms=True, sites=[site]))


def test_health_round_trips_through_json():
    capture = _hand_capture()
    again = Capture.loads(capture.dumps())
    assert again == capture


def test_grads_text_has_a_sparkline_per_module():
    from gradscope.render.grads import render_text

    text = render_text(_hand_capture())
    assert "train.py:7 (4 calls)" in text
    assert "enc.layer$1_" in text and "____" in text  # all-zero module
    assert "▁▅×█" in text  # model: log scale, non-finite marked


def test_grads_chart_svg_escapes_names(tmp_path):
    from gradscope.render.grads import render_chart

    svg = render_chart(_hand_capture(name="$\\alpha$ <b>&"), "svg")
    root = ET.fromstring(svg)  # well-formed XML
    assert root.tag.endswith("svg")
    assert b"<b>&" not in svg


def test_render_format_grads_cli(oracle, tmp_path):
    _, capture = oracle
    path = tmp_path / "cap.json"
    path.write_text(capture.dumps())
    proc = run_gradscope("render", path, "--format", "grads")
    assert proc.returncode == 0, proc.stderr
    assert "model.0" in proc.stdout and "scale" in proc.stdout
    for ext in ("svg", "png"):
        out = tmp_path / f"chart.{ext}"
        proc = run_gradscope("render", path, "--format", "grads", "-o", out)
        assert proc.returncode == 0, proc.stderr
        assert out.stat().st_size > 1000
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    bad = run_gradscope("render", path, "--format", "grads", "-o", tmp_path / "chart.dot")
    assert bad.returncode != 0 and "Traceback" not in bad.stderr


def test_a_complex_gradient_counts_in_the_norms(tmp_path):
    """torch's total norm (clip_grad_norm_'s return value) counts the complex parameter; so must the
    model's norm and the parameter's own (it was left out, and the module's number was too small)."""
    plain = run_python(SCRIPTS / "health_complex_norm.py")
    assert plain.returncode == 0, plain.stderr
    proc, data = trace_json(SCRIPTS / "health_complex_norm.py", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (site,) = Capture.from_json(data).grad_health.sites
    model = next(s for s in site.series if s.of == "model")
    assert _close(model.first, float(plain.stdout))
    assert {s.name for s in site.series if s.of == "parameter"} == {"m.wc", "m.wr"}
