"""A GAN step at module level: D trained on fake.detach(), G through D(fake)."""
import torch
from torch import nn

torch.manual_seed(0)
G = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
D = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=1e-3)
opt_d = torch.optim.Adam(D.parameters(), lr=1e-3)
bce = nn.BCEWithLogitsLoss()

for it in range(2):
    real = torch.randn(16, 2) * 0.5 + 1
    z = torch.randn(16, 4)
    fake = G(z)
    d_real = D(real)
    d_fake = D(fake.detach())
    ones = torch.ones_like(d_real)
    loss_d = bce(d_real, ones) + bce(d_fake, torch.zeros_like(d_fake))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    g_out = D(fake)
    loss_g = bce(g_out, torch.ones_like(g_out))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
