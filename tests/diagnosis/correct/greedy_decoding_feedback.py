"""A GRU decoder trained on its own greedy predictions (free running): each step's argmax token is
fed back as the next input; the loss still reaches every parameter through the logits."""
import torch
from torch import nn

torch.manual_seed(27)
vocab, dim, steps = 15, 16, 6
emb = nn.Embedding(vocab, dim)
cell = nn.GRUCell(dim, dim)
out = nn.Linear(dim, vocab)
opt = torch.optim.Adam([*emb.parameters(), *cell.parameters(), *out.parameters()], lr=1e-3)
targets = torch.randint(0, vocab, (5, steps))

for epoch in range(2):
    h = torch.zeros(5, dim)
    token = torch.zeros(5, dtype=torch.long)
    loss = 0.0
    for t in range(steps):
        h = cell(emb(token), h)
        logits = out(h)
        loss = loss + nn.functional.cross_entropy(logits, targets[:, t])
        token = logits.argmax(dim=-1)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
