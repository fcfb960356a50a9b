"""A BYOL-style step whose target network is a functional copy of the online weights made with
clone() instead of detach().clone(): the target branch stays in the graph, gradient flows into the
online network through both branches and the stop-gradient the method relies on is gone."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

torch.manual_seed(17)
online = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
predictor = nn.Linear(4, 4)
opt = torch.optim.SGD([*online.parameters(), *predictor.parameters()], lr=0.05)
target_params = {name: p.clone() for name, p in online.named_parameters()}  # CULPRIT

x = torch.randn(32, 8)
for step in range(3):
    view1 = x + 0.1 * torch.randn_like(x)
    view2 = x + 0.1 * torch.randn_like(x)
    p1 = F.normalize(predictor(online(view1)), dim=1)
    z2 = F.normalize(functional_call(online, target_params, (view2,)), dim=1)
    loss = F.mse_loss(p1, z2, reduction="sum") / len(x)
    opt.zero_grad()
    loss.backward()
    opt.step()
    with torch.no_grad():
        for name, p in online.named_parameters():
            target_params[name].mul_(0.99).add_(p, alpha=0.01)
print("target requires grad:", z2.requires_grad, "loss", round(loss.item(), 4))
