"""A GAN whose discriminator step scores the generator's samples without detaching them: that
backward() frees the generator's graph and the generator step then raises."""
import torch
from torch import nn

torch.manual_seed(10)
G = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2))
D = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
opt_g = torch.optim.Adam(G.parameters(), lr=2e-4)
opt_d = torch.optim.Adam(D.parameters(), lr=2e-4)
bce = nn.BCEWithLogitsLoss()
real = torch.randn(32, 2) * 0.5 + 1.0

for step in range(2):
    fake = G(torch.randn(32, 4))
    d_real = D(real)
    d_fake = D(fake)  # CULPRIT
    d_loss = bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()

    g_out = D(fake)
    g_loss = bce(g_out, torch.ones_like(g_out))
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()
