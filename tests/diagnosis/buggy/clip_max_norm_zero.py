"""Gradient clipping with max_norm taken from a --clip option whose default is 0.0:
clip_grad_norm_ scales every gradient to zero, and no step changes the model."""
import argparse
import torch
import torch.nn as nn
import torch.nn.functional as F

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--clip", type=float, default=0.0, help="max grad norm (0 = off)")
parser.add_argument("--steps", type=int, default=25)
args = parser.parse_args()
torch.manual_seed(6)


class ConvAutoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
                                 nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.dec = nn.Sequential(nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1), nn.ReLU(),
                                 nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1))

    def forward(self, x):
        return self.dec(self.enc(x))


def blobs(n=16, size=16):
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    c = torch.randint(4, size - 4, (n, 2))
    d2 = (yy[None] - c[:, 0, None, None]) ** 2 + (xx[None] - c[:, 1, None, None]) ** 2
    return torch.exp(-d2.float() / 8.0).unsqueeze(1)


model = ConvAutoencoder()
optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
for step in range(args.steps):
    x = blobs()
    recon = model(x)
    loss = F.mse_loss(recon, x)
    optimizer.zero_grad()
    loss.backward()
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=args.clip)  # CULPRIT
    optimizer.step()
    if step % 5 == 0:
        print(f"step {step:02d} recon {loss.item():.5f} grad_norm {gnorm.item():.4f}")
