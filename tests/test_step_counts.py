"""`--step N` records the N-th backward call and says how often its line ran: every call of that line,
the ones before the N-th included, as the script itself counts them."""

from __future__ import annotations

import json

import pytest

from conftest import SCRIPTS, run_gradscope, run_python, trace_json

SCRIPT = SCRIPTS / "step_counts.py"
LOOP, AFTER = 10, 13  # the two backward lines


@pytest.fixture(scope="module")
def ran():
    return json.loads(run_python(SCRIPT).stdout)  # {"loop": 7, "after": 2}


@pytest.mark.parametrize("step, line, key", [(None, LOOP, "loop"), (3, LOOP, "loop"), (8, AFTER, "after")])
def test_step_counts_every_call_of_its_line(ran, step, line, key, tmp_path):
    extra = ("--step", str(step)) if step is not None else ()
    proc, capture = trace_json(SCRIPT, tmp_path=tmp_path, extra=extra)
    assert proc.returncode == 0, proc.stderr
    roots = [(r["step"], r["line"], r["calls"]) for r in capture["roots"]]
    if step is None:  # the first call of each line
        assert roots == [(1, LOOP, ran["loop"]), (ran["loop"] + 1, AFTER, ran["after"])]
    else:
        assert roots == [(step, line, ran[key])]
    assert capture["backward_calls"] == sum(ran.values()) == 9


def test_the_report_says_how_often_the_line_ran(ran):
    proc = run_gradscope("trace", "--step", "3", SCRIPT)
    assert proc.returncode == 0, proc.stderr
    assert f"(call #3, this line ran {ran['loop']}×)" in proc.stderr
