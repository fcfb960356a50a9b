"""In-process traces (Python API): tree order for shared vertices, in-place updates under no_grad."""

from __future__ import annotations

import torch

import gradscope


def test_shared_vertex_expanded_first_then_referenced():
    with gradscope.trace() as session:
        w = torch.ones(3, requires_grad=True)
        shared = w * 2
        deep = (shared + 1).relu()
        out = (torch.cat([deep, shared]) * 3).sum()
        out.backward()
    lines = session.tree().splitlines()
    mentions = [i for i, line in enumerate(lines) if " shared  nonleaf" in line]
    assert len(mentions) == 2
    first, second = mentions
    assert "(see above)" not in lines[first] and "(see above)" in lines[second]
    assert " w  leaf" in lines[first + 1]  # expanded right where it is first printed
    # and torch agrees on what the graph holds
    assert type(shared.grad_fn).__name__ == "MulBackward0" and w.grad.tolist() == [12.0, 12.0, 12.0]


def test_manual_sgd_update_under_no_grad_keeps_leaves_leaves():
    """`w -= lr * w.grad` under no_grad changes w in place; w stays a leaf with no cut recorded."""
    with gradscope.trace() as session:
        X = torch.randn(8, 3)
        w = torch.zeros(3, requires_grad=True)
        for _ in range(3):
            loss = ((X @ w - 1.0) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= 0.1 * w.grad
            w.grad.zero_()
    wt = next(t for t in session.capture.tensors if t.name == "w")
    assert (wt.kind, wt.is_leaf, wt.requires_grad) == ("leaf", w.is_leaf, w.requires_grad)
    assert wt.cut_op is None and wt.cut_line is None
    assert wt.grads == [True]
