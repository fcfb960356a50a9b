"""A VAE trained with the reparameterised rsample(); a detached copy of the latent is logged."""
import torch
from torch import nn
from torch.distributions import Normal, kl_divergence

torch.manual_seed(30)
enc = nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 4))
dec = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 10))
opt = torch.optim.Adam([*enc.parameters(), *dec.parameters()], lr=1e-3)
x = torch.randn(32, 10)
prior = Normal(torch.zeros(2), torch.ones(2))
latents = []
for step in range(3):
    mu, log_std = enc(x).chunk(2, dim=-1)
    q = Normal(mu, log_std.exp())
    z = q.rsample()
    latents.append(z.detach().mean(0))
    loss = (dec(z) - x).pow(2).sum(-1).mean() + kl_divergence(q, prior).sum(-1).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item(), torch.stack(latents).shape)
