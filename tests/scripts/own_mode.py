"""The script uses its own TorchFunctionMode and anomaly detection."""
import torch
from torch.overrides import TorchFunctionMode


class Counter(TorchFunctionMode):
    def __init__(self):
        super().__init__()
        self.names = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.names.append(getattr(func, "__name__", "?"))
        return func(*args, **(kwargs or {}))


w = torch.ones(2, requires_grad=True)
with torch.autograd.set_detect_anomaly(True):
    with Counter() as counter:
        loss = (w * 3).sum()
        loss.backward()
print(counter.names, w.grad.tolist(), torch.is_anomaly_enabled())
try:
    with torch.autograd.detect_anomaly():
        bad = torch.tensor([-1.0], requires_grad=True)
        torch.sqrt(bad - 1).sum().backward()
    print("no anomaly")
except RuntimeError as exc:
    print("anomaly:", str(exc).splitlines()[0][:60])
