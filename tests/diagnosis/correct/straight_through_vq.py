"""Vector quantisation with the straight-through estimator: argmin picks the code, and
z + (z_q - z).detach() passes the decoder's gradient to the encoder."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(31)
encoder = nn.Sequential(nn.Linear(12, 24), nn.ReLU(), nn.Linear(24, 3))
codebook = nn.Embedding(6, 3)
decoder = nn.Sequential(nn.Linear(3, 24), nn.ReLU(), nn.Linear(24, 12))
opt = torch.optim.Adam([*encoder.parameters(), *codebook.parameters(), *decoder.parameters()], lr=1e-3)
x = torch.randn(20, 12)
for step in range(3):
    z = encoder(x)
    idx = torch.cdist(z, codebook.weight).argmin(dim=1)
    z_q = codebook(idx)
    vq_loss = F.mse_loss(z_q, z.detach()) + 0.25 * F.mse_loss(z, z_q.detach())
    z_st = z + (z_q - z).detach()
    loss = F.mse_loss(decoder(z_st), x) + vq_loss
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
