"""A contrastive model whose learnable temperature is stored with register_buffer (with
requires_grad=True) instead of as an nn.Parameter: it receives a gradient every step but is not
in model.parameters(), so the optimizer never updates it."""
import math
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(5)


class ContrastiveModel(nn.Module):
    def __init__(self, dim=8):
        super().__init__()
        self.img = nn.Linear(12, dim)
        self.txt = nn.Linear(10, dim)
        self.register_buffer("logit_scale", torch.tensor(math.log(1 / 0.07), requires_grad=True))  # CULPRIT

    def forward(self, images, texts):
        a = F.normalize(self.img(images), dim=-1)
        b = F.normalize(self.txt(texts), dim=-1)
        return self.logit_scale.exp() * a @ b.t()


model = ContrastiveModel()
opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
images, texts = torch.randn(16, 12), torch.randn(16, 10)
labels = torch.arange(16)
for step in range(4):
    logits = model(images, texts)
    loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.t(), labels)) / 2
    opt.zero_grad()
    loss.backward()
    opt.step()
print("logit_scale grad:", model.logit_scale.grad is not None, "value:", round(model.logit_scale.item(), 4))
