"""A hand-written attention normalises its exp() in place with /=: exp saved its output for
backward, so backward() raises 'modified by an inplace operation'."""
import torch
from torch import nn

torch.manual_seed(17)


class Attention(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)

    def forward(self, x):
        scores = self.q(x) @ self.k(x).transpose(1, 2) / 4.0
        weights = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
        weights /= weights.sum(dim=-1, keepdim=True)  # CULPRIT
        return weights @ self.v(x)


attn = Attention()
opt = torch.optim.Adam(attn.parameters(), lr=1e-3)
x = torch.randn(2, 5, 16)
for step in range(2):
    loss = attn(x).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
