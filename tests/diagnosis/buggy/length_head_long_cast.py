"""A tagger with an auxiliary length predictor. The predicted length is cast to an integer before
the auxiliary loss, so the length head gets no gradient."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(7)


class Tagger(nn.Module):
    def __init__(self, vocab=30, dim=16, tags=5):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.rnn = nn.GRU(dim, dim, batch_first=True)
        self.tag = nn.Linear(dim, tags)
        self.length = nn.Linear(dim, 1)

    def forward(self, tokens):
        out, last = self.rnn(self.emb(tokens))
        return self.tag(out), self.length(last[-1]).squeeze(-1)


model = Tagger()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
tokens = torch.randint(0, 30, (6, 9))
tags = torch.randint(0, 5, (6, 9))
true_len = torch.randint(3, 9, (6,)).float()
for step in range(3):
    tag_logits, len_pred = model(tokens)
    n_pred = len_pred.round().long()  # CULPRIT
    loss = F.cross_entropy(tag_logits.reshape(-1, 5), tags.reshape(-1)) + 0.1 * F.mse_loss(n_pred.float(), true_len)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
