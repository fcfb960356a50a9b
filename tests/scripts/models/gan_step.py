"""A GAN training step with two small MLPs: the discriminator sees `fake.detach()`, then the generator trains."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
D = nn.Sequential(nn.Linear(2, 32), nn.LeakyReLU(0.2), nn.Linear(32, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
real = torch.randn(16, 2)
ones, zeros = torch.ones(16, 1), torch.zeros(16, 1)
for step in range(2):
    noise = torch.randn(16, 8)
    fake = G(noise)
    loss_d = F.binary_cross_entropy_with_logits(D(real), ones) + \
        F.binary_cross_entropy_with_logits(D(fake.detach()), zeros)
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    loss_g = F.binary_cross_entropy_with_logits(D(fake), ones)
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
print(f"loss_d {loss_d.item():.3f} loss_g {loss_g.item():.3f}")
