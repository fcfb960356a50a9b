"""The Python API: `with gradscope.trace() as session:` in a notebook-like setting."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_import_torch():
    code = "import sys, gradscope; import gradscope.capture, gradscope.render.tree; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_trace_block_labels_and_grads(tmp_path):
    import torch

    import gradscope

    with gradscope.trace() as session:
        w = torch.tensor([1.0, 2.0], requires_grad=True)
        frozen = torch.nn.Parameter(torch.ones(2), requires_grad=False)
        h = w * 3
        cut = h.detach()
        loss = (h + cut * frozen).sum()
        loss.backward()
    capture = session.capture
    labels = session.labels()
    assert labels["w"] == "leaf" and labels["h"] == "nonleaf" and labels["cut"] == "detached"
    assert labels["loss"] == "nonleaf"
    assert labels["frozen"] == "frozen"
    # compared with what torch reports for the same objects
    wt = next(t for t in capture.tensors if t.name == "w")
    assert wt.grad_values == w.grad.tolist() and wt.grads == [True]
    assert [capture.tensor(r.tensor).name for r in capture.roots] == ["loss"]
    assert "root loss" in session.tree()
    session.save(str(tmp_path / "block.json"))
    from gradscope.commands import load_capture

    assert load_capture(str(tmp_path / "block.json")) == capture


def test_capture_holds_no_tensors():
    import gc
    import weakref

    import torch

    import gradscope

    def run():
        with gradscope.trace() as session:
            a = torch.randn(64, 64, requires_grad=True)
            b = (a @ a).relu().sum()
            b.backward()
        return session, weakref.ref(a), weakref.ref(b)

    session, ref_a, ref_b = run()
    gc.collect()
    assert ref_a() is None and ref_b() is None
    assert session.capture.tensors  # and yet the capture describes them
