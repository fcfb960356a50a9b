"""A pooling layer that learns how many of the top activations to average: k comes from int() of
a sigmoid of a parameter, a Python number with no history, so k_logit never gets a gradient."""
import torch
from torch import nn

torch.manual_seed(8)


class LearnedTopKPool(nn.Module):
    def __init__(self, max_k=10):
        super().__init__()
        self.max_k = max_k
        self.k_logit = nn.Parameter(torch.zeros(()))

    def forward(self, h):
        k = max(1, int(torch.sigmoid(self.k_logit) * self.max_k))  # CULPRIT
        return h.topk(k, dim=1).values.mean(dim=1, keepdim=True)


encoder = nn.Sequential(nn.Linear(3, 10), nn.Tanh())
pool = LearnedTopKPool()
opt = torch.optim.Adam([*encoder.parameters(), *pool.parameters()], lr=1e-2)
x, y = torch.randn(30, 3), torch.randn(30, 1)
for step in range(4):
    loss = nn.functional.mse_loss(pool(encoder(x)), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print("k_logit.grad is None:", pool.k_logit.grad is None)
