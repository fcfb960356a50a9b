"""WGAN-style weight clipping done between forward and backward, through `.data`.

The critic's forward saved its weight; `p.data.clamp_()` changes it before `loss.backward()`.
`.data` hides the change from autograd: no error, and the gradient uses the clipped weights.
"""
import torch
from torch import nn

torch.manual_seed(0)
critic = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))
optimizer = torch.optim.RMSprop(critic.parameters(), lr=5e-5)
real = torch.randn(32, 4) * 3
loss = -critic(real).mean()
for p in critic.parameters():
    p.data.clamp_(-0.01, 0.01)
optimizer.zero_grad()
loss.backward()
optimizer.step()
