"""The capture schema: every violation is one CaptureError line naming where it is; what is written is
strict JSON (no NaN / Infinity); captures of format 1 still load."""

from __future__ import annotations

import json
import math

import pytest

from conftest import ROOT, SCRIPTS, run_gradscope
from gradscope.capture import FORMAT_VERSION, Capture, EdgeInfo, InplaceEvent, NodeInfo, RootInfo, TensorInfo
from gradscope.errors import CaptureError

DATA = ROOT / "tests" / "data"


def _capture() -> dict:
    """A small valid capture with every section filled in, as parsed JSON."""
    tensors = [TensorInfo(id=0, name="x", kind="leaf", requires_grad=True, shape=[2], line=3, node=0, grads=[True]),
               TensorInfo(id=1, name="y", kind="nonleaf", requires_grad=True, is_leaf=False, grad_fn="MulBackward0",
                          shape=[2], line=4, node=1, grads=[None])]
    nodes = [NodeInfo(id=0, name="AccumulateGrad", variable=0),
             NodeInfo(id=1, name="MulBackward0", tensor=1, next=[0, None],
                      saved=[{"name": "self", "shape": [2], "dtype": "float32", "version": 0, "tensor": 0}])]
    capture = Capture(script="s.py", argv=["s.py"], tensors=tensors, nodes=nodes, edges=[EdgeInfo("t0", "t1")],
                      roots=[RootInfo(tensor=1, line=5)], variables={"x": 0, "y": 1}, backward_calls=1,
                      events=[InplaceEvent(op="add_", tensor=0, file="s.py", line=4)],
                      modules=[{"name": "m", "type": "Linear", "called": True, "params": [0]}],
                      optimizers=[{"name": "opt", "type": "SGD", "params": [0]}],
                      warnings=[{"category": "UserWarning", "message": "w", "file": "s.py", "line": 4}])
    return json.loads(capture.dumps())


# (where to change the capture, the new value, words the one-line error must contain)
VIOLATIONS = [
    (("tensors",), None, ["Expected `array`, got `null`", "$.tensors"]),
    (("backward_calls",), -1, [">= 0", "$.backward_calls"]),
    (("backward_calls",), 2**63, ["<= 9223372036854775807", "$.backward_calls"]),
    (("tensors", 0, "id"), -3, [">= 0", "$.tensors[0].id"]),
    (("tensors", 0, "shape"), [2, -1], [">= 0", "$.tensors[0].shape[1]"]),
    (("tensors", 0, "kind"), "weird", ["weird", "$.tensors[0].kind"]),
    (("tensors", 0, "requires_grad"), 1, ["Expected `bool`", "$.tensors[0].requires_grad"]),
    (("tensors", 0, "line"), True, ["Expected `int | null`", "$.tensors[0].line"]),
    (("tensors", 0, "grad_values"), [{"a": 1}], ["$.tensors[0].grad_values[0]"]),
    (("nodes", 1, "next"), [0, -1], [">= 0", "$.nodes[1].next[1]"]),
    (("nodes", 1, "saved", 0, "version"), "0", ["Expected `int`", "$.nodes[1].saved[0].version"]),
    (("edges", 0, "src"), "x0", ["$.edges[0].src"]),
    (("roots", 0, "calls"), -2, [">= 0", "$.roots[0].calls"]),
    (("variables", "x"), 1.5, ["Expected `int`", "$.variables[...]"]),
    (("events", 0, "line"), "4", ["$.events[0].line"]),  # fields no renderer reads are checked too
    (("modules", 0, "called"), None, ["$.modules[0].called"]),
    (("optimizers", 0, "params"), None, ["$.optimizers[0].params"]),
    (("warnings", 0, "line"), [], ["$.warnings[0].line"]),
    (("exit", "code"), "0", ["$.exit.code"]),
    (("tensors", 0, "bogus"), 1, ["unknown field `bogus`"]),
    (("edges", 0, "dst"), "t7", ["edge t0->t7 names an unknown vertex"]),
    (("events", 0, "tensor"), 9, ["events[0].tensor names unknown tensor 9"]),
    (("tensors", 0, "grads"), [True, False], ["2 grads for 1 roots"]),
]


@pytest.mark.parametrize("path, value, words", VIOLATIONS, ids=lambda v: str(v)[:40])
def test_each_violation_is_one_line_naming_where(path, value, words):
    data = _capture()
    Capture.loads(json.dumps(data))  # valid before the change
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(CaptureError) as info:
        Capture.loads(json.dumps(data))
    message = str(info.value)
    assert "\n" not in message and message.startswith("malformed capture: "), message
    for word in words:
        assert word in message, (word, message)


def test_integers_beyond_python_json_limits_are_one_line():
    text = json.dumps(_capture()).replace('"backward_calls": 1', '"backward_calls": ' + "9" * 5000)
    assert "9" * 5000 in text
    with pytest.raises(CaptureError, match="out of range"):
        Capture.loads(text)
    with pytest.raises(CaptureError, match="nested too deeply"):
        Capture.loads('{"format_version": 2, "argv": ' + "[" * 100_000 + "]" * 100_000 + "}")


def test_round_trip_keeps_every_field():
    data = _capture()
    assert json.loads(Capture.loads(json.dumps(data)).dumps()) == data
    assert Capture.loads(json.dumps(data)) == Capture.from_json(data)


def test_format_1_captures_still_load_and_old_non_json_numbers_say_why():
    """The captures under tests/data/format1 were written by gradscope's first release and are kept as
    they were: never re-recorded."""
    olds = sorted((DATA / "format1").glob("sample_*.json"))
    assert olds
    for path in olds:
        assert json.loads(path.read_text())["format_version"] == 1
        Capture.loads(path.read_text())
    old = json.dumps(dict(_capture(), format_version=1)).replace('"grad_values": null', '"grad_values": [NaN]', 1)
    with pytest.raises(CaptureError, match="NaN or Infinity is not JSON.*trace again"):
        Capture.loads(old)


def _strict(text: str):
    def refuse(token):
        raise ValueError(f"not JSON: {token}")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_are_written_as_strings(tmp_path):
    """A real run whose gradients hold inf and nan: the capture is strict JSON, the values say what torch
    printed, and the file loads again."""
    out = tmp_path / "c.json"
    proc = run_gradscope("trace", "--quiet", "--json", out, SCRIPTS / "nonfinite_grad.py")
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    assert {"inf", "-inf", "nan"} <= {v for values in printed.values() for v in values}
    data = _strict(out.read_text())
    grads = {t["name"]: t["grad_values"] for t in data["tensors"] if t["name"] in printed}
    assert {name: [v if isinstance(v, str) else str(float(v)) for v in values] for name, values in grads.items()} \
        == printed
    Capture.loads(out.read_text())
    # and a non-finite float put into a capture by hand is written as null, never as NaN
    capture = Capture(tensors=[TensorInfo(id=0, grad_values=[math.inf])], events=[InplaceEvent(line=1)])
    assert _strict(capture.dumps())["tensors"][0]["grad_values"] == [None]


def test_render_and_explain_of_a_malformed_capture_exit_2_with_one_line(tmp_path):
    data = _capture()
    data["nodes"][0]["next"] = None
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    for argv in (["render", path], ["explain", path]):
        proc = run_gradscope(*argv)
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "$.nodes[0].next" in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert FORMAT_VERSION >= 2
