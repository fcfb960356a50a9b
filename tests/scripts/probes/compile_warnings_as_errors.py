"""Probe: with every warning an error, torch.compile(module) runs (gradscope's own module hooks must
not make torch warn that there are global hooks), and the script's filters stay its own."""

import warnings

warnings.simplefilter("error")
import torch  # noqa: E402

model = torch.nn.Linear(3, 1)
compiled = torch.compile(model, backend="eager")
compiled(torch.ones(2, 3)).sum().backward()
print("compiled module ran, grad", list(model.weight.grad.shape))
print("filters", len(warnings.filters), [f[0] for f in warnings.filters].count("error"))
