"""Language-model fine-tuning: new special tokens are added, and the embedding matrix is grown by
assigning a new Parameter AFTER the optimizer was built, so the optimizer keeps the old matrix."""
import torch
from torch import nn

torch.manual_seed(8)


class TinyLM(nn.Module):
    def __init__(self, vocab, dim):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.mix = nn.Linear(dim, dim)

    def forward(self, tokens):
        h = torch.tanh(self.mix(self.embed(tokens)))
        return h @ self.embed.weight.t()


lm = TinyLM(vocab=50, dim=16)
opt = torch.optim.Adam(lm.parameters(), lr=1e-3)
extra = torch.randn(2, 16) * 0.02
lm.embed.weight = nn.Parameter(torch.cat([lm.embed.weight.detach(), extra]))  # CULPRIT
tokens = torch.randint(0, 52, (4, 10))
for step in range(3):
    opt.zero_grad()
    logits = lm(tokens[:, :-1])
    loss = nn.functional.cross_entropy(logits.reshape(-1, 52), tokens[:, 1:].reshape(-1))
    loss.backward()
    opt.step()
print(f"loss {loss.item():.4f}")
