"""A contrastive model with a memory bank that stores the batch embeddings with detach_() instead
of detach(): the in-place detach also cuts the embeddings that the loss uses, so backward()
raises (the loss has no grad_fn)."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(15)
encoder = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 8))
opt = torch.optim.SGD(encoder.parameters(), lr=0.1)
bank = torch.randn(64, 8)
ptr = 0
x = torch.randn(64, 10)
for batch in x.split(16):
    z = F.normalize(encoder(batch), dim=1)
    bank[ptr:ptr + len(z)] = z.detach_()  # CULPRIT
    ptr = (ptr + len(z)) % len(bank)
    logits = z @ bank.t() / 0.1
    loss = F.cross_entropy(logits, torch.arange(len(z)) + ptr - len(z))
    opt.zero_grad()
    loss.backward()
    opt.step()
