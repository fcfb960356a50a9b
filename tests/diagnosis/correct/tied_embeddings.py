"""A tiny language model whose output projection shares its weight with the input embedding."""
import torch
from torch import nn

torch.manual_seed(22)


class TinyLM(nn.Module):
    def __init__(self, vocab=40, dim=12):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.mix = nn.Linear(dim, dim)
        self.lm_head = nn.Linear(dim, vocab, bias=False)
        self.lm_head.weight = self.tok.weight

    def forward(self, ids):
        return self.lm_head(torch.tanh(self.mix(self.tok(ids))))


lm = TinyLM()
opt = torch.optim.AdamW(lm.parameters(), lr=1e-3)
ids = torch.randint(0, 40, (4, 10))
for step in range(3):
    logits = lm(ids[:, :-1])
    loss = nn.functional.cross_entropy(logits.reshape(-1, 40), ids[:, 1:].reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
