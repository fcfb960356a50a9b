"""WGAN-GP critic step whose gradient penalty is computed with create_graph=False: the gradients
returned by autograd.grad carry no graph, so the penalty is a constant and never trains the
critic (the Lipschitz constraint silently does nothing)."""
import torch
from torch import nn

torch.manual_seed(2)
critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
gen = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
opt_c = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))


def gradient_penalty(critic, real, fake):
    eps = torch.rand(real.size(0), 1)
    interp = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = critic(interp)
    grads = torch.autograd.grad(scores, interp, grad_outputs=torch.ones_like(scores))[0]  # CULPRIT
    return ((grads.norm(2, dim=1) - 1) ** 2).mean()


for step in range(3):
    real = torch.randn(16, 2) + 2.0
    with torch.no_grad():
        fake = gen(torch.randn(16, 4))
    gp = gradient_penalty(critic, real, fake)
    loss_c = critic(fake).mean() - critic(real).mean() + 10.0 * gp
    opt_c.zero_grad()
    loss_c.backward()
    opt_c.step()
print("gp requires_grad:", gp.requires_grad, "gp:", round(gp.item(), 4))
