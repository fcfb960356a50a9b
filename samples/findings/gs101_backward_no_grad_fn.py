"""A fine-tuning step that reuses the evaluation helper to compute its loss.

`evaluate` is decorated with @torch.no_grad(), so the loss it returns has no graph and
`loss.backward()` raises "element 0 of tensors does not require grad and does not have a grad_fn".
"""
import torch
from torch import nn


@torch.no_grad()
def evaluate(model, inputs, targets):
    return nn.functional.mse_loss(model(inputs), targets)


torch.manual_seed(0)
model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
inputs, targets = torch.randn(32, 4), torch.randn(32, 1)

for step in range(3):
    loss = evaluate(model, inputs, targets)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
