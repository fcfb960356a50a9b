"""The pytest plugin, as a user's test suite meets it (pytester, in a subprocess): found through its
`pytest11` entry point, a `gradscope_trace` fixture whose sessions assert with `check`'s text, the
session's report in a failing test's report, and nothing heavy imported when pytest loads it."""

from __future__ import annotations

import re

pytest_plugins = ["pytester"]

USER_TESTS = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x, cut):
        feats = self.backbone(x)
        if cut:
            feats = feats.detach()
        return self.head(feats)


def _train(gradscope_trace, cut):
    model = Net()
    with gradscope_trace() as s:
        loss = model(torch.randn(3, 4), cut).sum()
        loss.backward()
    return model, s


def test_flow_as_intended(gradscope_trace):
    model, s = _train(gradscope_trace, cut=False)
    s.assert_trains("model.*")
    s.assert_no_findings("warning")
    assert model.backbone.weight.grad is not None  # what torch says agrees


def test_detached_backbone(gradscope_trace):
    model, s = _train(gradscope_trace, cut=True)
    assert model.backbone.weight.grad is None  # what torch says
    s.assert_trains("model.backbone.*")
'''

LIGHT_TEST = '''
import sys


def test_plugin_loaded_without_torch(request):
    assert request.config.pluginmanager.has_plugin("gradscope")
    assert "torch" not in sys.modules
    assert not [m for m in sys.modules if m.startswith("gradscope.record")]
'''


def test_fixture_assertions_and_failure_report(pytester):
    path = pytester.makepyfile(test_user=USER_TESTS)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "feats.detach()" in text)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    # the assertion says why, with the line, in check's words
    assert f"AssertionError: ✗ --trains model.backbone.*: 2 of 2 parameters do not train  (line {line})" in out
    # (the test file's own variables are not named: it was compiled before the trace began)
    assert f"    model.backbone.weight: no gradient: detach() at line {line} cuts the result from the graph" in out
    # the failing test's session is printed in its report; the passing one's is not
    sections = re.findall(r"-+ gradscope trace -+", out)
    assert len(sections) == 1
    report = out[out.index(sections[0]):]
    assert "Gradient flow by module" in report and "model.head" in report  # the module view
    assert "gradscope/api.py" not in out  # pytest hides the assertion helpers' own frames


def test_loading_the_plugin_imports_neither_torch_nor_the_recorder(pytester):
    pytester.makepyfile(test_light=LIGHT_TEST)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
