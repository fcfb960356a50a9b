"""Gradient clipping and GradScaler, as the capture's grad_health reports them, against what torch did
in the same run (the scripts write it down): the max_norm clip_grad_norm_ got, the norms taken right
after backward (before clipping; scaled by the GradScaler's scale, as `.grad` holds them then), and
the steps a GradScaler skipped for non-finite gradients, which are not errors."""

from __future__ import annotations

import json
import math

import pytest

from conftest import SCRIPTS, run_gradscope

from gradscope.capture import Capture

REL = 1e-5


def _traced(tmp_path, script, *args, extra=()):
    facts, out = tmp_path / "torch.json", tmp_path / "cap.json"
    proc = run_gradscope("trace", "--quiet", "--json", out, *extra, SCRIPTS / script, facts, *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(facts.read_text()), Capture.loads(out.read_text())


def _series(capture: Capture, of: str, name: str):
    (site,) = capture.grad_health.sites
    return next(s for s in site.series if s.of == of and s.name == name)


@pytest.mark.parametrize("args", [(), ("--positional",)], ids=["keyword", "positional"])
def test_clipping_max_norm_and_norms_before_clipping(tmp_path, args):
    torch_says, capture = _traced(tmp_path, "health_clip.py", *args)
    health = capture.grad_health
    assert health.clip_max_norm == torch_says["max_norm"] == 0.5
    assert health.grad_scaler is False
    model = _series(capture, "model", "model")
    assert model.calls == len(torch_says["before"]) == 12
    # the norms are of .grad right after backward: the total clip_grad_norm_ returned, not the clipped one
    for got, before, after in zip(model.series, torch_says["before"], torch_says["after"]):
        assert math.isclose(got, before, rel_tol=REL), (got, before)
        assert after == pytest.approx(0.5, rel=1e-5) and not math.isclose(got, after, rel_tol=0.1)
    assert math.isclose(model.max, max(torch_says["before"]), rel_tol=REL)


def test_grad_scaler_presence_scaled_norms_and_skipped_steps(tmp_path):
    torch_says, capture = _traced(tmp_path, "health_grad_scaler.py")
    health = capture.grad_health
    assert health.grad_scaler is True and health.clip_max_norm == 10.0
    bad = [i + 1 for i, finite in enumerate(torch_says["finite"]) if not finite]  # backward calls, 1-based
    assert bad == [4, 8] and torch_says["scale"][-1] == 256.0  # the scaler halved its scale at each
    for name in ("model.weight", "model.bias"):
        s = _series(capture, "parameter", name)
        assert s.calls == 12 and s.series_calls == list(range(1, 13))
        for call, got in zip(s.series_calls, s.series):
            scaled = torch_says["scaled"][call - 1][name]
            if not math.isfinite(scaled):
                assert got is None  # non-finite norms are left out of the series
                continue
            # what .grad held right after backward: scaled by the scale of that step, not unscaled
            assert math.isclose(got, scaled, rel_tol=REL), (name, call)
            unscaled = torch_says["unscaled"][call - 1][name]
            assert math.isclose(got / torch_says["scale"][call - 1], unscaled, rel_tol=1e-4), (name, call)
    bias = _series(capture, "parameter", "model.bias")
    assert bias.nonfinite == 2 and bias.first_nonfinite == 4
    assert _series(capture, "parameter", "model.weight").nonfinite == 0

    from gradscope.analyse.findings import find_all

    found = find_all(capture)
    assert [(f.code, f.severity) for f in found if f.code.startswith("GS9")] == [("GS902", "info")]
    gs902 = next(f for f in found if f.code == "GS902")
    assert "skipped by GradScaler" in gs902.title and "after 2 of 12 backward calls" in gs902.message
    assert "first at call 4" in gs902.message
    assert not [f for f in found if f.severity in ("error", "warning")], [(f.code, f.title) for f in found]


def test_check_nan_passes_what_a_grad_scaler_skips(tmp_path):
    proc = run_gradscope("check", "--nan", SCRIPTS / "health_grad_scaler.py", tmp_path / "torch.json")
    assert proc.returncode == 0, proc.stderr
    assert ("✓ --nan: no NaN/Inf in the forward passes; the non-finite gradients were unscaled by a GradScaler, "
            "which skips those steps") in proc.stderr
