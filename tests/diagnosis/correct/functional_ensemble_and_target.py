"""A vmapped ensemble whose optimizer holds the stacked leaves from stack_module_state (the
original members are only templates), and a Polyak target made from detach().clone() copies of
the online weights, used through functional_call as a fixed regression target."""
import copy
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

torch.manual_seed(36)
members = [nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1)) for _ in range(4)]
params, buffers = stack_module_state(members)
base = copy.deepcopy(members[0]).to("meta")
opt = torch.optim.Adam(params.values(), lr=1e-2)
online = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))
opt_o = torch.optim.SGD(online.parameters(), lr=0.05)
target = {name: p.detach().clone() for name, p in online.named_parameters()}


def run_one(p, b, x):
    return functional_call(base, (p, b), (x,))


x, y = torch.randn(32, 3), torch.randn(32, 1)
for step in range(3):
    preds = vmap(run_one, in_dims=(0, 0, None))(params, buffers, x)
    loss = ((preds - y) ** 2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()

    goal = functional_call(online, target, (x + 0.1,))
    loss_o = F.mse_loss(online(x), goal)
    opt_o.zero_grad()
    loss_o.backward()
    opt_o.step()
    with torch.no_grad():
        for name, p in online.named_parameters():
            target[name].mul_(0.9).add_(p, alpha=0.1)
print("stacked grad:", params["0.weight"].grad is not None, "online grad:", online[0].weight.grad is not None)
