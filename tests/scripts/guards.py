"""In-place changes of three storages, grad mode switched off twice, nested, a cut input made by a chain of
ops: enough to reach every guard of the recorder when a test makes the guards small."""
import torch

w = torch.randn(3, requires_grad=True)
a, b, c = torch.zeros(3), torch.zeros(3), torch.zeros(3)
a.add_(1)
b.add_(1)
c.add_(1)
with torch.no_grad():
    with torch.no_grad():
        base = w * 2
d = (base + a) * 3
loss = (w * d).sum() * 2
loss.backward()
print([round(v, 4) for v in w.grad.tolist()] == [round(v, 4) for v in (2 * d).tolist()])
