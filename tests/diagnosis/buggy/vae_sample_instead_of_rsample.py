"""A small VAE on toy data. The latent is drawn with .sample(), so the reconstruction loss never reaches the encoder."""
import torch
from torch import nn
from torch.distributions import Normal

torch.manual_seed(0)


class VAE(nn.Module):
    def __init__(self, d_in=12, d_z=3):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(d_in, 16), nn.ReLU())
        self.mu = nn.Linear(16, d_z)
        self.logvar = nn.Linear(16, d_z)
        self.dec = nn.Sequential(nn.Linear(d_z, 16), nn.ReLU(), nn.Linear(16, d_in))

    def forward(self, x):
        h = self.enc(x)
        mu, logvar = self.mu(h), self.logvar(h)
        posterior = Normal(mu, torch.exp(0.5 * logvar))
        z = posterior.sample()  # CULPRIT
        return self.dec(z), mu, logvar


model = VAE()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
data = torch.randn(64, 12)
for epoch in range(3):
    for batch in data.split(16):
        recon, mu, logvar = model(batch)
        rec_loss = ((recon - batch) ** 2).sum(dim=1).mean()
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=1))
        loss = rec_loss + kl
        opt.zero_grad()
        loss.backward()
        opt.step()
    print(f"epoch {epoch} loss {loss.item():.3f}")
