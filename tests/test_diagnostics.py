"""gradscope says when it is unsure: its own failures while recording are kept in the capture (where,
what, how often), the report ends with one line about them, and no message claims what was not seen."""

from __future__ import annotations

import json

from conftest import SAMPLES, SCRIPTS
from gradscope.capture import Capture


def _fail(*args, **kwargs):
    raise RuntimeError("simulated internal failure")


def test_internal_failures_are_kept_with_where_what_and_how_often(monkeypatch, tmp_path, capsys):
    from gradscope import runner
    from gradscope.api import trace_target
    from gradscope.record.recorder import Recorder

    log = tmp_path / "diagnostics.jsonl"
    monkeypatch.setenv("GRADSCOPE_DIAGNOSTICS_LOG", str(log))
    calls = []

    def failing_bind(*args, **kwargs):
        calls.append(args)
        _fail()

    monkeypatch.setattr(Recorder, "bind", failing_bind)  # every name binding fails
    capture = trace_target(runner.resolve_script(str(SAMPLES / "detach.py")), []).capture
    capsys.readouterr()
    [diag] = capture.diagnostics
    assert diag.what == "RuntimeError: simulated internal failure"
    assert diag.where.startswith("record/") and "(_bind)" in diag.where
    source = (SAMPLES / "detach.py").read_text().splitlines()
    assert diag.file == "detach.py" and "=" in source[diag.line - 1]  # the first binding of the script
    assert diag.count == len(calls) > 1
    assert Capture.loads(capture.dumps()).diagnostics == capture.diagnostics
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["where"], e["count"]) for e in logged] == [(diag.where, diag.count)]


def test_report_says_the_picture_may_be_incomplete_and_claims_nothing_unseen(monkeypatch, capsys):
    from gradscope import commands
    from gradscope.record import mode

    monkeypatch.delenv("GRADSCOPE_DIAGNOSTICS_LOG", raising=False)
    options = dict(module=None, args=[], json_path=None, outputs=[], fmt=None, quiet=False, roots=(), step=None,
                   findings=True, render_options={})
    script = str(SCRIPTS / "backward_in_function.py")
    assert commands.run_job(commands.trace(script=script, **options)) == 0
    clean = capsys.readouterr()
    assert "could not be recorded" not in clean.err and "No graph to show" not in clean.err
    monkeypatch.setattr(mode, "_roots_of", _fail)  # the backward call cannot be recorded
    assert commands.run_job(commands.trace(script=script, **options)) == 0
    out = capsys.readouterr()
    assert out.out == clean.out == "[3.0, 3.0]\n"  # the script ran as under python
    assert "computed nothing that requires grad" not in out.err
    assert "No graph to show: none was recorded, and some events could not be" in out.err
    last = out.err.strip().splitlines()[-1]
    assert last.startswith("gradscope: 1 event could not be recorded (1 internal error, first RuntimeError: "
                           "simulated internal failure in record/mode.py:"), last
    assert last.endswith("the picture may be incomplete. The capture's `diagnostics` (--json) say where.")
