"""A small Transformer classifier: nn.TransformerEncoder deep-copies its template layer, a
sinusoidal position table is a registered buffer, and the head is replaced before the optimizer
is built."""
import math

import torch
from torch import nn

torch.manual_seed(29)


class Encoder(nn.Module):
    def __init__(self, vocab=30, d=16, n_cls=5):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        pos = torch.arange(12).unsqueeze(1)
        freq = torch.exp(torch.arange(0, d, 2) * (-math.log(10000.0) / d))
        table = torch.zeros(12, d)
        table[:, 0::2] = torch.sin(pos * freq)
        table[:, 1::2] = torch.cos(pos * freq)
        self.register_buffer("pos", table)
        layer = nn.TransformerEncoderLayer(d, nhead=2, dim_feedforward=32, dropout=0.0, batch_first=True)
        self.body = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        self.head = nn.Linear(d, 3)

    def forward(self, ids):
        h = self.tok(ids) + self.pos[: ids.shape[1]]
        return self.head(self.body(h).mean(dim=1))


model = Encoder()
model.head = nn.Linear(16, 5)
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
ids, y = torch.randint(0, 30, (4, 12)), torch.randint(0, 5, (4,))
for step in range(2):
    loss = nn.functional.cross_entropy(model(ids), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
