"""A learned weight read out with float() and added to the loss: torch gives that term no gradient
(log_var.grad misses the +1 the tensor itself would give). A loss divided by its own .item(), a
stop-gradient normaliser that may be intended, is the second case."""
import sys

import torch
from torch import nn

torch.manual_seed(0)
head = nn.Linear(3, 1)
log_var = nn.Parameter(torch.tensor(0.5))
x, y = torch.randn(8, 3), torch.randn(8, 1)
mse = nn.functional.mse_loss(head(x), y)
if sys.argv[1] == "param":
    loss = torch.exp(-log_var) * mse + float(log_var)
else:
    loss = mse / mse.item()
loss.backward()
with_tensor = torch.autograd.grad(torch.exp(-log_var) * mse.detach() + log_var, log_var)[0]
print(f"{log_var.grad.item() if log_var.grad is not None else None} {with_tensor.item()}")
