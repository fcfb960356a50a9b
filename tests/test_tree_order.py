"""The tree expands a shared vertex where it is first printed and refers back to it afterwards."""

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
