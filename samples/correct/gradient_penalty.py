"""WGAN-GP critic step: the generator runs under no_grad, the penalty uses create_graph=True (correct)."""
import torch
from torch import nn

torch.manual_seed(0)
generator = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
critic = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 1))
opt_c = torch.optim.Adam(critic.parameters(), lr=1e-4, betas=(0.0, 0.9))

for step in range(2):
    real = torch.randn(16, 2)
    with torch.no_grad():
        fake = generator(torch.randn(16, 4))
    alpha = torch.rand(16, 1)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    scores = critic(mixed)
    grads, = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
    penalty = ((grads.norm(2, dim=1) - 1) ** 2).mean()
    loss = critic(fake).mean() - critic(real).mean() + 10.0 * penalty
    opt_c.zero_grad()
    loss.backward()
    opt_c.step()
print("critic loss", loss.item())
