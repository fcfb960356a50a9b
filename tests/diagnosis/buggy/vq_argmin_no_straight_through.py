"""A VQ-VAE forward pass without the straight-through estimator: the quantised code is looked up
from argmin indices, so the reconstruction loss never reaches the encoder (only the commitment
term does)."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(15)


class VQVAE(nn.Module):
    def __init__(self, d_in=16, d_lat=4, codes=8):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(d_in, 32), nn.ReLU(), nn.Linear(32, d_lat))
        self.codebook = nn.Embedding(codes, d_lat)
        self.decoder = nn.Sequential(nn.Linear(d_lat, 32), nn.ReLU(), nn.Linear(32, d_in))

    def forward(self, x):
        z = self.encoder(x)
        dist = torch.cdist(z, self.codebook.weight)
        codes = dist.argmin(dim=-1)  # CULPRIT
        z_q = self.codebook(codes)
        commit = F.mse_loss(z, z_q.detach()) + F.mse_loss(z_q, z.detach())
        return self.decoder(z_q), commit


vq = VQVAE()
opt = torch.optim.Adam(vq.parameters(), lr=2e-3)
batch = torch.randn(32, 16)
for step in range(4):
    recon, commit = vq(batch)
    loss = F.mse_loss(recon, batch) + 0.25 * commit
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
