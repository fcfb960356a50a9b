"""A denoising autoencoder whose loss keeps reduction='none' (to weight pixels later) and is
backpropagated as is: 'grad can be implicitly created only for scalar outputs'."""
import torch
from torch import nn

torch.manual_seed(13)
ae = nn.Sequential(nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 64))
opt = torch.optim.Adam(ae.parameters(), lr=1e-3)
clean = torch.rand(20, 64)

for epoch in range(3):
    noisy = clean + 0.1 * torch.randn_like(clean)
    recon = ae(noisy)
    loss = nn.functional.mse_loss(recon, clean, reduction="none")  # CULPRIT
    opt.zero_grad()
    loss.backward()
    opt.step()
