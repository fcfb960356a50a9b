"""Feature logging with a forward hook that detaches the output and returns it: a forward hook's
return value replaces the module's output, so everything below the hooked layer is cut off."""
import torch
from torch import nn

torch.manual_seed(12)
features = {}


def keep(name):
    def hook(module, inputs, output):
        output = output.detach()  # CULPRIT
        features[name] = output
        return output
    return hook


model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))
model[2].register_forward_hook(keep("mid"))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, labels = torch.randn(24, 6), torch.randint(0, 3, (24,))
for step in range(3):
    loss = nn.functional.cross_entropy(model(x), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("first layer grad is None:", model[0].weight.grad is None, "mid norm", round(features["mid"].norm().item(), 3))
