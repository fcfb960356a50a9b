"""A GAN training loop: the discriminator step uses fake.detach(), the generator step uses fake."""
import torch
from torch import nn

torch.manual_seed(20)
gen = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
disc = nn.Sequential(nn.Linear(2, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
g_opt = torch.optim.Adam(gen.parameters(), lr=1e-3, betas=(0.5, 0.999))
d_opt = torch.optim.Adam(disc.parameters(), lr=1e-3, betas=(0.5, 0.999))
criterion = nn.BCEWithLogitsLoss()

for it in range(3):
    real = torch.randn(8, 2) * 0.5 + 1.0
    noise = torch.randn(8, 3)
    fake = gen(noise)
    d_real, d_fake = disc(real), disc(fake.detach())
    loss_d = criterion(d_real, torch.ones_like(d_real)) + criterion(d_fake, torch.zeros_like(d_fake))
    d_opt.zero_grad()
    loss_d.backward()
    d_opt.step()

    pred = disc(fake)
    loss_g = criterion(pred, torch.ones_like(pred))
    g_opt.zero_grad()
    loss_g.backward()
    g_opt.step()
print(loss_d.item(), loss_g.item())
