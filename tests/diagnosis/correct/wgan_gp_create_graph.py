"""WGAN-GP done right: the penalty's gradients come from autograd.grad(create_graph=True), so the
penalty is differentiable; the generator sample is made under no_grad for the critic step, and
the generator step freezes nothing but only steps its own optimizer."""
import torch
from torch import nn

torch.manual_seed(32)
critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
gen = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
opt_c = torch.optim.Adam(critic.parameters(), lr=1e-3, betas=(0.5, 0.9))
opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.5, 0.9))


def gradient_penalty(critic, real, fake):
    eps = torch.rand(real.size(0), 1)
    interp = (eps * real + (1 - eps) * fake).requires_grad_(True)
    scores = critic(interp)
    grads = torch.autograd.grad(scores, interp, grad_outputs=torch.ones_like(scores), create_graph=True)[0]
    return ((grads.norm(2, dim=1) - 1) ** 2).mean()


for step in range(3):
    real = torch.randn(16, 2) + 2.0
    with torch.no_grad():
        fake = gen(torch.randn(16, 4))
    loss_c = critic(fake).mean() - critic(real).mean() + 10.0 * gradient_penalty(critic, real, fake)
    opt_c.zero_grad()
    loss_c.backward()
    opt_c.step()

    loss_g = -critic(gen(torch.randn(16, 4))).mean()
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
print("critic", round(loss_c.item(), 4), "gen", round(loss_g.item(), 4))
