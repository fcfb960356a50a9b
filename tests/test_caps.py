"""Caps never drop the fact a finding cites, and every cap says what it dropped (issue 12).

Per kind and line the recorder keeps the first EVENT_CAP_PER_SITE moments and the latest one, and counts
the rest; the line that froze a parameter is kept on the parameter itself. Every other cap (cut sites,
cut chains, walks for the parameters behind a cut, a raising frame's tensors, warnings) is counted in the
capture's `dropped`. Each is checked against what the script itself (python, PyTorch) knows."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT, SCRIPTS, run_gradscope, run_python, trace_json
from gradscope.analyse.findings import find_all
from gradscope.analyse.modules import module_statuses
from gradscope.analyse.statuses import compute, freeze_lines
from gradscope.capture import Capture
from gradscope.render.tree import ORIGIN_DROPPED, render_text
from gradscope.record.recorder import EVENT_CAP_PER_SITE
from gradscope.record.records import MAX_CUT_DEPTH

FREEZE_LINE = 11  # peft_freeze.py: `p.requires_grad_(False)` over the backbone's 24 parameters


@pytest.fixture(scope="module")
def peft(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("peft")
    proc, data = trace_json(SCRIPTS / "peft_freeze.py", tmp_path=tmp)
    assert proc.returncode == 0, proc.stderr
    return data, json.loads(run_python(SCRIPTS / "peft_freeze.py").stdout)


def test_one_line_freezing_more_than_the_cap_is_cited_for_every_parameter(peft):
    data, torch_says = peft
    capture = Capture.from_json(data)
    frozen_by_torch = sorted(n for n, facts in torch_says.items() if not facts["requires_grad"])
    assert len(frozen_by_torch) == 24 > EVENT_CAP_PER_SITE
    params = {t.param_name: t for t in capture.tensors if t.param_name}
    assert sorted(n for n, t in params.items() if t.kind == "frozen") == frozen_by_torch
    for name in frozen_by_torch:
        assert params[name].frozen_line == FREEZE_LINE
        assert params[name].grad_is_none is torch_says[name]["grad_is_none"] is True
    lines = freeze_lines(capture)
    assert {lines[params[n].id] for n in frozen_by_torch} == {FREEZE_LINE}
    [gs205] = [f for f in find_all(capture) if f.code == "GS205"]
    assert gs205.lines == [FREEZE_LINE] and gs205.title.startswith("24 frozen")
    backbone = module_statuses(capture, compute(capture))["backbone"]
    assert (backbone.frozen, backbone.frozen_lines) == (24, [FREEZE_LINE])


def test_the_cap_keeps_the_first_and_the_latest_and_counts_the_rest(peft):
    data, torch_says = peft
    capture = Capture.from_json(data)
    names = {t.id: t.param_name for t in capture.tensors}
    at_line = [names[e.tensor] for e in capture.events if e.line == FREEZE_LINE]
    frozen = [n for n, facts in torch_says.items() if not facts["requires_grad"]]  # in the order frozen
    assert at_line == frozen[:EVENT_CAP_PER_SITE] + [frozen[-1]]
    [dropped] = [d for d in capture.dropped if d.what == "events"]
    assert (dropped.kind, dropped.file, dropped.line, dropped.cap) == ("inplace", "peft_freeze.py", FREEZE_LINE,
                                                                       EVENT_CAP_PER_SITE)
    assert dropped.count == len(frozen) - len(at_line) == 3
    # an in-place op returns the tensor it changed: one moment per call, not two
    assert len([e for e in capture.events if e.op == "add_"]) == 2 * 3  # the head's 2 parameters, 3 steps


def test_older_captures_load_and_take_the_freeze_line_from_events(peft):
    data, _ = peft
    old = json.loads(json.dumps(data))
    old["format_version"] = 6
    del old["dropped"]
    for t in old["tensors"]:
        del t["frozen_line"]
    capture = Capture.loads(json.dumps(old))
    assert capture.dropped == [] and all(t.frozen_line is None for t in capture.tensors)
    lines = freeze_lines(capture)
    kept = {e.tensor for e in capture.events if e.line == FREEZE_LINE}
    assert {lines[tid] for tid in kept} == {FREEZE_LINE}


def test_the_other_caps_say_what_they_dropped(tmp_path):
    proc, data = trace_json(SCRIPTS / "caps.py", tmp_path=tmp_path)
    python = run_python(SCRIPTS / "caps.py")
    assert proc.returncode == python.returncode == 1 and proc.stdout == python.stdout
    knows = json.loads(python.stdout)
    capture = Capture.from_json(data)
    dropped = {d.what: d for d in capture.dropped}
    assert sorted(dropped) == ["cut_origins", "frame_locals", "warnings"]
    assert len(capture.warnings) == dropped["warnings"].cap == 200
    assert (dropped["warnings"].count, dropped["warnings"].line) == (knows["warnings"] - 200, 16)
    [frame] = capture.exit["exception"]["frames"]
    assert len(frame["locals"]) == dropped["frame_locals"].cap == 64
    assert (dropped["frame_locals"].count, dropped["frame_locals"].line) == (knows["frame_tensors"] - 64, 21)
    # the 200-deep chain of constants: its oldest links are gone, and the capture says where it stops
    assert (dropped["cut_origins"].count, dropped["cut_origins"].line, dropped["cut_origins"].cap) == \
        (1, 12, MAX_CUT_DEPTH)
    assert len([t for t in capture.tensors if t.line == 12]) < knows["chain"]
    [oldest] = [t for t in capture.tensors if t.origin_dropped]
    assert oldest.line == 12 and not oldest.requires_grad


def test_a_cut_chain_deeper_than_kept_is_marked_where_it_stops(tmp_path):
    """The tree, expanded in full, follows the no_grad chain back to the tensor whose making was not
    kept and says so there, once; torch agrees the whole chain has no gradient."""
    proc, data = trace_json(SCRIPTS / "deep_cut_chain.py", tmp_path=tmp_path)
    torch_says = json.loads(run_python(SCRIPTS / "deep_cut_chain.py").stdout)["tensors"]
    assert proc.returncode == 0
    capture = Capture.from_json(data)
    for name in ("w", "h"):
        [t] = [t for t in capture.tensors if t.name == name and t.alive]
        said = torch_says[name]
        assert (t.requires_grad, t.is_leaf, t.grad_fn, t.grad_is_none) == \
            (said["requires_grad"], said["is_leaf"], said["grad_fn"], said["grad_is_none"])
    [oldest] = [t for t in capture.tensors if t.origin_dropped]
    assert (oldest.line, oldest.kind, oldest.requires_grad) == (10, "no_grad", False)
    tree = render_text(capture, {"depth": 1000, "view": "graph"}, width=4000)  # deep: no wrapping
    chain = [line for line in tree.splitlines() if "deep_cut_chain.py:10" in line]
    assert 1 < len(chain) <= MAX_CUT_DEPTH + 1
    assert ORIGIN_DROPPED in chain[-1] and not any(ORIGIN_DROPPED in line for line in chain[:-1])


def test_the_report_says_what_the_caps_left_out(tmp_path):
    """The terminal report ends with one line naming each cap reached (as the capture's `dropped`)."""
    capture_path = tmp_path / "caps.json"
    proc = run_gradscope("trace", "--json", capture_path, SCRIPTS / "caps.py")
    capture = Capture.loads(capture_path.read_text())
    dropped = {d.what: d for d in capture.dropped}
    [note] = [line for line in proc.stderr.splitlines() if line.startswith("gradscope: recording caps left out")]
    assert f"{dropped['warnings'].count} distinct warnings past 200 (shown, not kept), first at caps.py:16" in note
    assert f"{dropped['frame_locals'].count} tensor locals of the raising frame past 64, first at caps.py:21" in note
    assert f"1 cut chain deeper than {MAX_CUT_DEPTH} ops" in note
    explained = run_gradscope("explain", capture_path)
    assert note in explained.stderr.splitlines()  # the same line from the saved capture


def test_cut_sites_and_walks_past_their_caps_are_counted(monkeypatch, tmp_path, capsys):
    """In-process, with the caps made small: more cut sites than kept, a graph bigger than the walk."""
    from gradscope import runner
    from gradscope.api import trace_target
    from gradscope.record import facts

    monkeypatch.setattr(facts, "MAX_CUT_SITES", 1)
    monkeypatch.setattr(facts, "MAX_WALK", 2)
    capture = trace_target(runner.resolve_script(str(SCRIPTS / "kinds.py")), []).capture
    capsys.readouterr()
    assert not capture.diagnostics
    cuts = [e for e in capture.events if e.__struct_config__.tag == "cut"]
    dropped = {d.what: d for d in capture.dropped}
    assert len(cuts) == 1 and dropped["cut_sites"].cap == 1 and dropped["cut_sites"].count >= 1
    assert dropped["cut_sites"].line is not None and dropped["cut_sites"].line != cuts[0].line
    assert dropped["reaches"].cap == 2 and dropped["reaches"].count >= 1


def test_the_recorders_guards_count_what_they_left_out(monkeypatch, capsys):
    """With every guard made tiny, each says what it left out instead of silently stopping."""
    from gradscope import runner
    from gradscope.api import trace_target
    from gradscope.record import facts, gradmode, nan, walk

    monkeypatch.setattr(facts, "MAX_MUTATIONS", 1)
    monkeypatch.setattr(gradmode, "_MAX_DEPTH", 1)
    monkeypatch.setattr(walk, "MAX_CUT_ANCESTRY", 1)
    monkeypatch.setattr(nan, "MAX_HOOKED", 2)
    result = trace_target(runner.resolve_script(str(SCRIPTS / "guards.py")), [], health={"nan": True})
    assert capsys.readouterr().out == run_python(SCRIPTS / "guards.py").stdout == "True\n"
    capture = result.capture
    assert result.exit_code == 0 and not capture.diagnostics
    dropped = {d.what: d for d in capture.dropped}
    assert {"mutations", "grad_mode_switches", "cut_ancestry", "nan_hooks"} <= set(dropped), dropped
    assert dropped["mutations"].cap == 1 and dropped["mutations"].count >= 1
    assert dropped["grad_mode_switches"].cap == 1 and dropped["grad_mode_switches"].line is not None
    assert dropped["cut_ancestry"].cap == 1 and dropped["cut_ancestry"].count >= 1
    assert dropped["nan_hooks"].cap == 2


def test_the_findings_walks_past_their_cap_are_counted(monkeypatch, capsys):
    """The search for a custom Function's node named by a backward error, and the check of a loss's
    graph that no backward ran through, say when MAX_WALK stopped them (kinds custom_backward, pending)."""
    from gradscope import runner
    from gradscope.api import trace_target
    from gradscope.record import facts

    monkeypatch.setattr(facts, "MAX_WALK", 2)
    custom = trace_target(runner.resolve_script(str(ROOT / "tests" / "diagnosis" / "buggy" / "custom_function_missing_grad.py")), [])
    unused = trace_target(runner.resolve_script(str(SCRIPTS / "no_backward.py")), [])
    capsys.readouterr()
    [walk] = [d for d in custom.capture.dropped if d.what == "reaches" and d.kind == "custom_backward"]
    assert (walk.cap, walk.count, walk.line) == (2, 1, 29)  # the failing loss.backward()
    assert not [e for e in custom.capture.events if e.__struct_config__.tag == "custom_backward"]
    [walk] = [d for d in unused.capture.dropped if d.what == "reaches" and d.kind == "pending"]
    assert (walk.cap, walk.count) == (2, 1)
