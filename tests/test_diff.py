"""`gradscope diff A.json B.json`: what changed in gradient flow. Rules on hand-built captures (no
torch), then end to end on two configs of a realistic training script."""

from __future__ import annotations

import gc
import json
import sys

from conftest import SAMPLES, run_gradscope, trace_json

from gradscope.analyse.diff import diff
from gradscope.analyse.findings import find_all
from gradscope.analyse.params import param_statuses
from gradscope.capture import Capture, EdgeInfo, RootInfo, TensorInfo

SCRIPT = SAMPLES / "ci" / "train.py"


def _param(tid, name, *, rg=True, got=True):
    return TensorInfo(id=tid, param_name=name, is_parameter=True, requires_grad=rg,
                      kind="parameter" if rg else "frozen", grads=[got if rg else None], grad_is_none=not got, line=5)


def _capture(params, *, held=(), cut_line=None, roots=("loss",)):
    tensors = list(params)
    edges = []
    if cut_line is not None:  # enc.w -> (linear) -> feats = detach() -> loss
        tensors += [TensorInfo(id=50, op="linear", kind="nonleaf", grad_fn="AddmmBackward0", is_leaf=False),
                    TensorInfo(id=51, name="feats", kind="detached", cut_op="detach", cut_line=cut_line, op="detach")]
        edges = [EdgeInfo("t0", "t50"),
                 EdgeInfo("t50", "t51", flows_grad=False, cut="detached", reason=f"detach() · line {cut_line}",
                          line=cut_line),
                 EdgeInfo("t51", "t100", flows_grad=False, cut="detached", reason=f"detach() · line {cut_line}",
                          line=cut_line)]
    out = []
    for i, name in enumerate(roots):
        tensors.append(TensorInfo(id=100 + i, name=name, kind="nonleaf", requires_grad=True, is_leaf=False,
                                  grad_fn="SumBackward0", line=30 + i))
        out.append(RootInfo(tensor=100 + i, line=31 + i, step=i + 1))
    return Capture(script="t.py", tensors=tensors, edges=edges, roots=out, backward_calls=len(roots),
                   optimizers=[{"name": "opt", "type": "SGD", "params": list(held)}])


def _changes(result):
    return [(c.section, c.sign, c.subject, c.what) for c in result.changes]


def test_same_flow_is_no_change_even_when_lines_moved():
    a = _capture([_param(0, "enc.w", got=False)], held=[0], cut_line=10)
    b = _capture([_param(0, "enc.w", got=False)], held=[0], cut_line=20)
    assert diff(a, b).changes == []


def test_parameter_statuses_cuts_and_roots():
    a = _capture([_param(0, "enc.w"), _param(1, "head.w"), _param(2, "old.w")], held=[0, 1, 2])
    b = _capture([_param(0, "enc.w", got=False), _param(1, "head.w", rg=False), _param(3, "new.w")],
                 held=[0], cut_line=12, roots=("loss", "aux"))
    changes = _changes(diff(a, b))
    assert ("parameters", "~", "enc.w", "stopped getting a gradient: detached (detach() · line 12)") in changes
    assert ("parameters", "~", "head.w", "stopped requiring grad (frozen at line 5)") in changes
    assert ("parameters", "~", "head.w", "no longer in any optimizer (was in `opt`)") in changes
    assert ("parameters", "-", "old.w", "parameter gone (was: gets a gradient, in optimizer `opt`)") in changes
    assert ("parameters", "+", "new.w", "new parameter (gets a gradient, in no optimizer)") in changes
    assert ("cuts", "+", "feats: detach()", "added") in changes
    assert ("roots", "+", "aux ← .backward()", "added") in changes
    # and the other way round, the same things undone
    back = _changes(diff(b, a))
    assert ("parameters", "~", "enc.w", "started getting a gradient") in back
    assert ("cuts", "-", "feats: detach()", "removed") in back


def test_collector_is_paused_while_comparing_and_left_as_it_was():
    a = _capture([_param(0, "enc.w")], held=[0])
    b = _capture([_param(0, "enc.w", got=False)], held=[0], cut_line=12)
    diff(a, b)  # imports the findings first
    seen, thresholds = [], gc.get_threshold()

    def inside_diff(phase, info):  # in the analyses diff runs (the bulk of its time)
        frame = sys._getframe(1)
        while frame is not None and frame.f_code not in (find_all.__code__, param_statuses.__code__):
            frame = frame.f_back
        if frame is not None:
            seen.append(phase)

    gc.callbacks.append(inside_diff)
    gc.set_threshold(1)  # any allocation would start a collection
    try:
        assert gc.isenabled()
        diff(a, b)
        assert gc.isenabled()
        gc.disable()
        diff(a, b)
        assert not gc.isenabled()
    finally:
        gc.set_threshold(*thresholds)
        gc.enable()
        gc.callbacks.pop()
    assert seen == []  # no collection ran in either diff's analyses


def test_findings_that_appear_or_go():
    a = _capture([_param(0, "enc.w")], held=[0])
    b = _capture([_param(0, "enc.w", got=False)], held=[0], cut_line=12)
    findings = [c for c in diff(a, b).changes if c.section == "findings"]
    assert [(c.sign, c.subject.split(":")[0]) for c in findings] == [("+", "GS203 warning")]
    assert findings[0].lines == {"b": [12, 5, 31]}


def test_two_configs_end_to_end(tmp_path):
    for side, args in (("a", ()), ("b", ("--detach-features",))):
        (tmp_path / side).mkdir()
        proc, _ = trace_json(SCRIPT, *args, tmp_path=tmp_path / side)
        assert proc.returncode == 0, proc.stderr
    a, b = tmp_path / "a" / "capture.json", tmp_path / "b" / "capture.json"
    line = next(i for i, text in enumerate(SCRIPT.read_text().splitlines(), 1) if "features.detach()" in text)

    same = run_gradscope("diff", a, a)
    assert same.returncode == 0 and "no change in gradient flow" in same.stdout

    changed = run_gradscope("diff", "--json", tmp_path / "d.json", a, b)
    assert changed.returncode == 1, changed.stderr
    assert f"+ features (in Classifier.forward): detach()  (B line {line})" in changed.stdout
    result = json.loads((tmp_path / "d.json").read_text())
    assert result["changed"] is True
    [params] = [c for c in result["changes"] if c["section"] == "parameters"]
    assert params["subject"].split(", ") == [f"model.blocks.{i}.{conv}.{p}" for i in (0, 1) for conv in ("conv1", "conv2")
                                             for p in ("weight", "bias")]
    assert params["what"] == f"stopped getting a gradient: detach() at line {line} cuts the result from the graph"


def test_bad_input_and_incompatible_formats_exit_2(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(Capture(script="t.py").dumps())
    old = tmp_path / "old.json"
    old.write_text(json.dumps(dict(json.loads(good.read_text()), format_version=1)))
    for args, message in [((good, tmp_path / "missing.json"), "no such capture"),
                          ((good, old), "re-trace both with the same gradscope")]:
        proc = run_gradscope("diff", *args)
        assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
        assert proc.stderr.startswith("gradscope: error:") and message in proc.stderr
