"""torch.compile'd function and module (eager and aot_eager backends) inside a training loop."""
import torch
import _facts


@torch.compile(backend="eager")
def f(x, w):
    return torch.sin(x * w).sum()


@torch.compile(backend="aot_eager", fullgraph=True)
def g(x):
    return (x * 2).relu().sum()


model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
cmodel = torch.compile(model, backend="eager")
w = torch.ones(4, requires_grad=True)
x = torch.arange(4.0)
for _ in range(2):
    loss = f(x, w) + g(w) + cmodel(torch.ones(5, 2)).sum()
    loss.backward()
_facts.dump(**{"w": w, "loss": loss, "model.0.weight": model[0].weight})
