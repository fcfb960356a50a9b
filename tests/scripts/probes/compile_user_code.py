"""Probe: torch.compile(fullgraph=True) of the script's own functions and module, whose bodies assign
names (the binding checks gradscope inserts there must not reach dynamo: it cannot trace them, and it
would recompile whenever gradscope's set of plain types grows). Prints dynamo's own counters."""

import torch
import torch._dynamo.utils as dynamo_utils

torch.manual_seed(0)
calls = 0


def helper(z, k):
    """Adds k."""
    out = z + k
    return out


@torch.compile(backend="eager", fullgraph=True)
def scaled(x, w):
    global calls
    calls += 1
    y = x * w
    for k in range(2):
        y = helper(y, k)

    def inner(a):
        b = a * 2
        return b

    return inner(y).sum()


class Block(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(4, 4)

    def forward(self, x):
        h = self.lin(x)
        h = torch.relu(h)
        total = h.sum()
        return total


block = Block()
compiled = torch.compile(block, backend="eager", fullgraph=True)
w = torch.ones(4, requires_grad=True)
x = torch.arange(4.0)
for step in range(3):
    loss = scaled(x, w) + compiled(x)
    loss.backward()
    label = f"step {step}"  # a new plain type (str) for gradscope after the first compile
print("grads", w.grad.tolist(), [round(v, 4) for v in block.lin.bias.grad.tolist()], calls, helper.__doc__)
stats = dynamo_utils.counters
print("graphs", stats["stats"]["unique_graphs"], "breaks", sum(stats["graph_break"].values()),
      "recompiles", sum(stats["recompiles"].values()))
