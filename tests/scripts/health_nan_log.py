"""A loss that turns non-finite at the 6th step: log(x - 2) once x has drifted down to 2."""
import torch

torch.manual_seed(0)
w = torch.tensor([1.0, 0.5], requires_grad=True)
opt = torch.optim.SGD([w], lr=0.1)
first_bad = None
for step in range(12):
    x = 2.5 - 0.1 * step + w.sum() * 0
    loss = torch.log(x - 2) * w.sum()
    if first_bad is None and not torch.isfinite(loss):
        first_bad = step
    opt.zero_grad()
    loss.backward()
    opt.step()
print("first non-finite loss at step", first_bad)
