"""Every internal failure that gradscope swallows is counted (issue 12): the graph walk's and the name
rewriter's included. Each is forced in-process and must come back as one `diagnostics` entry saying
where it happened, while the script still runs as under python."""

from __future__ import annotations

import pytest

from conftest import SAMPLES, run_python
from gradscope.capture import Capture


def _fail(*args, **kwargs):
    raise RuntimeError("simulated internal failure")


@pytest.fixture(scope="module")
def python_out():
    return run_python(SAMPLES / "detach.py").stdout


@pytest.fixture
def traced(monkeypatch, tmp_path, capsys, python_out):
    """Trace samples/detach.py in-process; its diagnostics go to a log of the test's own (they are expected)."""
    from gradscope import runner
    from gradscope.api import trace_target

    monkeypatch.setenv("GRADSCOPE_DIAGNOSTICS_LOG", str(tmp_path / "diagnostics.jsonl"))

    def trace():
        capture = trace_target(runner.resolve_script(str(SAMPLES / "detach.py")), []).capture
        out = capsys.readouterr().out
        assert out == python_out  # the script ran as under python
        assert Capture.loads(capture.dumps()).diagnostics == capture.diagnostics
        return capture

    return trace


def _only(capture, where):
    [diag] = capture.diagnostics
    assert diag.where.startswith(where), diag.where
    return diag


def test_a_script_that_cannot_be_rewritten_for_names_is_counted(monkeypatch, traced):
    from gradscope.record import names

    assert not traced().diagnostics
    monkeypatch.setattr(names._BindingInserter, "visit", _fail)
    diag = _only(traced(), "record/names.py:")
    assert "(compile_user_source)" in diag.where and diag.what == "RuntimeError: simulated internal failure"
    assert diag.count == 1


def test_a_saved_value_the_walk_cannot_read_is_counted(monkeypatch, traced):
    from gradscope.record import walk

    saved_names = walk.Graph.saved_names
    monkeypatch.setattr(walk.Graph, "saved_names", lambda self, fn: saved_names(self, fn) + ["_saved_missing"])
    capture = traced()
    diag = _only(capture, "record/walk.py:")
    assert "(_saved)" in diag.where and diag.what.startswith("AttributeError")
    # one per node of the recorded graph (AccumulateGrad keeps nothing: it is never read)
    assert diag.count == len([n for n in capture.nodes if n.name != "AccumulateGrad"]) > 0
    assert diag.file == "detach.py" and diag.line == 15  # the backward call whose graph was walked


def test_a_stack_limit_that_cannot_be_raised_is_counted(monkeypatch, traced):
    from gradscope.record import walk

    if walk.resource is None:
        pytest.skip("no resource module (not on Windows)")

    def refuse(*args):
        raise OSError("simulated: not permitted")

    monkeypatch.setattr(walk.resource, "getrlimit", lambda which: (1 << 20, walk.resource.RLIM_INFINITY))
    monkeypatch.setattr(walk.resource, "setrlimit", refuse)
    diag = _only(traced(), "record/walk.py:")
    assert "(stack_for_freeing)" in diag.where and diag.what == "OSError: simulated: not permitted"


def test_a_node_without_metadata_is_counted():
    from gradscope.record.walk import node_event

    noted = []
    assert node_event(object(), noted.append) is None
    assert [type(e).__name__ for e in noted] == ["AttributeError"]


def test_an_op_the_mode_cannot_name_runs_unrecorded_and_is_counted(monkeypatch, traced):
    from gradscope.record import mode

    monkeypatch.setattr(mode.RecordingMode, "_name", _fail)
    diag = _only(traced(), "record/mode.py:")
    assert "(__torch_function__)" in diag.where and diag.count >= 1


def test_a_call_that_cannot_be_made_from_the_users_frame_is_counted(monkeypatch, traced):
    from gradscope.record import mode

    monkeypatch.setattr(mode, "_impersonate", _fail)
    diags = traced().diagnostics  # each op's call, and each backward call's
    assert all(d.where.startswith("record/mode.py:") and d.count >= 1 for d in diags), diags
    assert {d.where.rsplit(" ", 1)[-1] for d in diags} == {"(__torch_function__)", "(_call_from)"}, diags
