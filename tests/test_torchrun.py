"""`torchrun --nproc-per-node 2 -m gradscope trace ...`: one capture per rank, checked against what
PyTorch itself reports in each rank (samples/ddp_train.py --facts writes that), and one report."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

from conftest import ROOT, SAMPLES

SAMPLE = SAMPLES / "ddp_train.py"


def _backward_line() -> int:
    lines = SAMPLE.read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if text.strip() == "loss.backward()")


def test_two_ranks_write_one_capture_each(tmp_path):
    env = dict(os.environ, NO_COLOR="1", OMP_NUM_THREADS="1")
    env.pop("FORCE_COLOR", None)
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "gradscope", "trace", "--json", str(tmp_path / "cap.json"), "-o", str(tmp_path / "graph.dot"),
           str(SAMPLE), "--facts", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]

    # One report, saying whose it is; each rank's own files carry the rank in their names.
    assert proc.stderr.count("the report below is rank 0's (of 2)") == 1, proc.stderr[-3000:]
    assert "rank 1's" not in proc.stderr
    assert proc.stderr.count("Gradient flow by module") == 1
    assert not (tmp_path / "cap.json").exists()
    for rank in (0, 1):
        assert (tmp_path / f"graph.rank{rank}.dot").read_text().startswith("digraph")

    grads = {}
    for rank in (0, 1):
        cap = json.loads((tmp_path / f"cap.rank{rank}.json").read_text())
        facts = json.loads((tmp_path / f"facts.rank{rank}.json").read_text())
        assert facts["rank"] == rank and facts["world_size"] == 2
        assert cap["argv"][-2:] == ["--facts", str(tmp_path)]
        [root] = cap["roots"]
        assert root["call"] == "backward" and root["line"] == _backward_line()
        assert root["calls"] == facts["backward_calls"] == cap["backward_calls"]
        loss = cap["tensors"][root["tensor"]]
        assert loss["name"] == "loss" and loss["grad_fn"] == facts["loss"]["grad_fn"]
        assert loss["requires_grad"] is facts["loss"]["requires_grad"]

        params = [t for t in cap["tensors"] if t["param_name"]]
        assert len(params) == len(facts["params"])
        for name, fact in facts["params"].items():
            [info] = [t for t in params if t["param_name"] == name or t["param_name"].endswith("." + name)]
            assert info["requires_grad"] is fact["requires_grad"]
            assert info["kind"] == ("parameter" if fact["requires_grad"] else "frozen")
            assert info["grad_is_none"] is fact["grad_is_none"], name
            assert info["shape"] == fact["shape"]
            if fact["grad"] is not None and info["grad_values"] is not None:
                assert all(math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)
                           for a, b in zip(info["grad_values"], fact["grad"])), name
                grads.setdefault(name, []).append(info["grad_values"])
    # DDP averaged the gradients across ranks, which fed different data: both captures show the same.
    assert grads and all(len(v) == 2 and v[0] == v[1] for v in grads.values())
