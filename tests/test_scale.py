"""Scale: an RNNCell unrolled 3,000 steps (a graph far deeper than Python's recursion limit) traces,
walks, prints its tree, exports DOT and round-trips JSON without a RecursionError, and the capture
holds every node PyTorch's own graph has."""

from __future__ import annotations

import sys

import torch

from conftest import ROOT
from gradscope import runner
from gradscope.api import trace_target
from gradscope.capture import Capture
from gradscope.output import render_bytes
from gradscope.render.tree import render_text

STEPS = 3000
WORKLOAD = ROOT / "bench" / "workloads" / "deep_rnn.py"


def _plain_graph_size(steps: int) -> tuple[int, dict]:
    """Nodes in PyTorch's own graph for the same workload (walked iteratively), and node names counted."""
    torch.manual_seed(0)
    cell = torch.nn.RNNCell(8, 32)
    inputs = torch.randn(steps, 1, 8)
    h = torch.zeros(1, 32)
    for t in range(steps):
        h = cell(inputs[t], h)
    loss = h.pow(2).sum()
    seen, names, stack = set(), {}, [loss.grad_fn]
    while stack:
        fn = stack.pop()
        key = id(fn.variable) if type(fn).__name__ == "AccumulateGrad" else (fn._sequence_nr(), type(fn).__name__)
        if key in seen:
            continue
        seen.add(key)
        names[type(fn).__name__] = names.get(type(fn).__name__, 0) + 1
        stack.extend(nfn for nfn, _ in fn.next_functions if nfn is not None)
    return len(seen), names


def test_deep_rnn_traces_walks_and_renders_without_recursion():
    assert STEPS * 3 > sys.getrecursionlimit()  # deep enough that any recursive step would fail
    result = trace_target(runner.resolve_script(str(WORKLOAD)), [str(STEPS)])
    capture = result.capture
    assert result.exit_code == 0

    size, names = _plain_graph_size(STEPS)
    assert len(capture.nodes) == size
    counted: dict = {}
    for node in capture.nodes:
        counted[node.name] = counted.get(node.name, 0) + 1
    assert counted == names

    [root] = capture.roots
    loss = capture.tensors[root.tensor]
    assert loss.name == "loss" and loss.grad_fn == "SumBackward0"
    params = {t.param_name: t for t in capture.tensors if t.param_name}
    assert sorted(params) == ["cell.bias_hh", "cell.bias_ih", "cell.weight_hh", "cell.weight_ih"]
    assert all(p.kind == "parameter" and p.grad_is_none is False for p in params.values())

    tree = render_text(capture, {"view": "all"})
    assert "root loss" in tree and "Gradient flow by module" in tree
    assert render_bytes(capture, "dot", {}).startswith(b"digraph")
    again = Capture.loads(capture.dumps())
    assert len(again.nodes) == size and len(again.edges) == len(capture.edges)


def test_recorder_keeps_no_tensor_alive():
    """Records and events hold no tensors: what the script drops is freed, graph and activations too."""
    import gc
    import weakref

    from gradscope.api import TraceSession

    with TraceSession() as session:
        model = torch.nn.Linear(4, 4)
        act = torch.randn(2, 4, requires_grad=True)
        saved = act * act  # MulBackward0 saves `act` itself
        loss = model(saved).relu().sum()
        loss.backward()
        refs = {"act": weakref.ref(act), "saved": weakref.ref(saved), "loss": weakref.ref(loss),
                "weight": weakref.ref(model.weight)}
        pending = (act * 3.0).exp()  # a graph never run backward: its saved tensors must go too
        refs["pending"] = weakref.ref(pending)
        del model, act, saved, loss, pending
        gc.collect()
        alive_inside = sorted(name for name, ref in refs.items() if ref() is not None)
    assert alive_inside == []
    assert session.capture is not None and session.capture.roots


FREE_WITH_SMALL_STACK = """
import resource, sys
hard = resource.getrlimit(resource.RLIMIT_STACK)[1]
resource.setrlimit(resource.RLIMIT_STACK, (2 << 20, hard))
from gradscope import runner
from gradscope.api import trace_target
result = trace_target(runner.resolve_script(sys.argv[1]), ["6000"])
del result  # frees the script's namespace, and with it the walked 36,000-node graph
print("freed")
"""


def test_walked_deep_graph_is_freed_without_crashing(tmp_path):
    """PyTorch frees a graph whose nodes got Python wrappers (our walk) recursively on the C stack:
    with a 2 MiB stack, freeing a 6,000-step RNN crashed (SIGSEGV) until the walk made room."""
    from conftest import run_python

    proc = run_python("-c", FREE_WITH_SMALL_STACK, str(WORKLOAD), timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-2000:])
    assert proc.stdout.strip().endswith("freed")
