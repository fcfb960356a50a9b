"""`torchrun --nproc-per-node 2 -m gradscope check|trace ...` on CPU (gloo): the ranks judge the job
together (a parameter trains only if it trains on every rank; a rank that differs is a violation),
each rank stops after its own --stop-after call, and one report is printed.

What is expected comes from what PyTorch says in each rank (tests/scripts/ranks_differ.py writes
facts.rankN.json): which parameters got a gradient, how many backward calls each rank started, how
many steps it finished."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT, SCRIPTS

SCRIPT = SCRIPTS / "ranks_differ.py"
STOP = 3  # rank 0 makes 1 backward call per step, rank 1 makes 2: they stop in different steps


def _torchrun(*args, env=None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, NO_COLOR="1", OMP_NUM_THREADS="1")
    full_env.pop("FORCE_COLOR", None)
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        full_env.pop(var, None)
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "gradscope", *map(str, args)]
    return subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=240)


def _facts(folder) -> list[dict]:
    facts = [json.loads((folder / f"facts.rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [f["rank"] for f in facts] == [0, 1] and {f["world_size"] for f in facts} == {2}
    return facts


def _line_of(code: str) -> int:
    lines = SCRIPT.read_text().splitlines()
    [line] = [i for i, text in enumerate(lines, 1) if text.strip() == code]
    return line


def _trains(p: dict) -> bool:
    return p["requires_grad"] and p["got_grad"] and p["in_optimizer"]


def _summary(p: dict) -> str:
    """What check says about one rank's parameter; which words apply is decided by PyTorch's facts."""
    if not p["requires_grad"]:
        return "frozen"
    return ("gets a gradient" if p["got_grad"] else "gets no gradient") + ("" if p["in_optimizer"] else
                                                                           ", in no optimizer")


def _stopped_per_rank(proc, facts) -> None:
    """Each rank stopped inside its own STOP-th backward call, whatever the other rank had done."""
    for f in facts:
        assert f["backward_calls"] == STOP, f
    # the ranks make different numbers of calls per step, so per-rank counting stops them in different steps
    assert facts[0]["steps"] != facts[1]["steps"]
    expected = sorted(f"rank {f['rank']} step {s} done" for f in facts for s in range(f["steps"]))
    assert sorted(proc.stdout.splitlines()) == expected, proc.stdout


def test_check_aggregates_ranks_and_each_rank_stops(tmp_path):
    out = tmp_path / "check.json"
    proc = _torchrun("check", "--stop-after", STOP, "--trains", "model.*", "--trains", "model.body.*",
                     "--json", out, SCRIPT, tmp_path)
    facts = _facts(tmp_path)
    _stopped_per_rank(proc, facts)
    names = list(facts[0]["params"])
    assert names == list(facts[1]["params"])
    differ = [n for n in names if len({_summary(f["params"][n]) for f in facts}) > 1]
    assert differ, "the script must make the ranks differ, or this test proves nothing"

    assert proc.returncode == 1, proc.stderr[-3000:]
    assert proc.stderr.count(f"gradscope check {SCRIPT.name} · 2 ranks") == 1, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["ranks"] == 2 and result["stopped_after"] == STOP and result["ok"] is False
    assert not list(tmp_path.glob("check.rank*.json"))

    # a parameter trains only if it trains on every rank; the first rank where it does not says why
    for rule in result["rules"]:
        matched = [n for n in names if n.startswith(rule["pattern"].rstrip("*"))]
        assert rule["matched"] == matched
        failing = {n: next(f["rank"] for f in facts if not _trains(f["params"][n]))
                   for n in matched if not all(_trains(f["params"][n]) for f in facts)}
        assert {f["param"]: f["reason"].split(":")[0] for f in rule["failures"]} == \
               {n: f"on rank {rank}" for n, rank in failing.items()}
        for failure in rule["failures"]:
            assert failure["reason"].startswith(f"on rank {failing[failure['param']]}: no gradient: ")
        assert rule["holds"] is (not failing)
    assert [r["holds"] for r in result["rules"]] == [False, True]

    # the ranks that differ are a violation of their own, listed parameter by parameter
    [ranks] = [v for v in result["violations"] if v["kind"] == "ranks"]
    assert ranks["details"] == [f"{n}: " + "; ".join(f"rank {f['rank']}: {_summary(f['params'][n])}" for f in facts)
                                for n in differ]
    assert ranks["title"].startswith(f"{len(differ)} parameter(s) differ between ranks")
    for detail in ranks["details"]:
        assert "    " + detail in proc.stderr


def test_trace_stops_each_rank_after_its_own_backward_call(tmp_path):
    proc = _torchrun("trace", "--stop-after", STOP, "--json", tmp_path / "cap.json", SCRIPT, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    facts = _facts(tmp_path)
    _stopped_per_rank(proc, facts)
    assert proc.stderr.count(f"stopped after backward call {STOP} (--stop-after)") == 1, proc.stderr[-3000:]
    lines = {"penalty": _line_of("penalty.backward()"), "loss": _line_of("loss.backward()")}
    for f in facts:
        cap = json.loads((tmp_path / f"cap.rank{f['rank']}.json").read_text())
        assert cap["stopped_after"] == STOP and cap["backward_calls"] == f["backward_calls"]
        assert sum(root["calls"] for root in cap["roots"]) == f["backward_calls"]
        assert {root["line"] for root in cap["roots"]} == ({lines["loss"]} if f["rank"] == 0 else set(lines.values()))
        params = {t["param_name"]: t for t in cap["tensors"] if t["param_name"]}
        assert set(params) == set(f["params"])
        for name, fact in f["params"].items():
            assert params[name]["grad_is_none"] is fact["grad_is_none"], (f["rank"], name)
            assert any(params[name]["grads"]) is fact["got_grad"], (f["rank"], name)


def test_report_survives_a_slow_reporting_rank(tmp_path):
    """torchrun ends the job as soon as one rank exits non-zero: the other ranks must wait until the
    reporting rank has printed and written --json (here it is held back for 3 s, as on a busy machine)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import os, time\n"
        "if os.environ.get('RANK') == '0':\n"
        "    import gradscope.render.check as _check\n"
        "    _print = _check.print_check\n"
        "    def _slow(*args, **kwargs):\n"
        "        time.sleep(3)\n"
        "        return _print(*args, **kwargs)\n"
        "    _check.print_check = _slow\n")
    out = tmp_path / "check.json"
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    proc = _torchrun("check", "--trains", "model.*", "--json", out, SCRIPT, env={"PYTHONPATH": path})
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert proc.stderr.count(f"gradscope check {SCRIPT.name} · 2 ranks") == 1, proc.stderr[-3000:]
    assert json.loads(out.read_text())["ok"] is False
