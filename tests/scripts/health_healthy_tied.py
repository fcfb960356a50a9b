"""Healthy: a tiny language model whose output layer shares the embedding's weight, trained with
two micro-batches per step (gradient accumulation) and gradient clipping."""
import torch
from torch import nn

torch.manual_seed(0)


class TinyLM(nn.Module):
    def __init__(self, vocab=50, dim=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.mix = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, vocab, bias=False)
        self.out.weight = self.embed.weight  # tied

    def forward(self, tokens):
        return self.out(torch.tanh(self.mix(self.embed(tokens))))


model = TinyLM()
opt = torch.optim.Adam(model.parameters(), lr=3e-3)
data = torch.randint(0, 50, (8, 12))
for step in range(20):
    opt.zero_grad()
    for micro in data.chunk(2):
        logits = model(micro[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, 50), micro[:, 1:].reshape(-1)) / 2
        loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
    opt.step()
