"""An LSTM encoder-decoder (seq2seq) with teacher forcing: one training step."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Seq2Seq(nn.Module):
    def __init__(self, vocab=20, dim=16):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.encoder = nn.LSTM(dim, dim, batch_first=True)
        self.decoder = nn.LSTM(dim, dim, batch_first=True)
        self.out = nn.Linear(dim, vocab)

    def forward(self, source, target_in):
        _, state = self.encoder(self.embed(source))
        decoded, _ = self.decoder(self.embed(target_in), state)
        return self.out(decoded)


torch.manual_seed(0)
model = Seq2Seq()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
source = torch.randint(0, 20, (4, 7))
target = torch.randint(0, 20, (4, 6))
logits = model(source, target[:, :-1])
loss = F.cross_entropy(logits.reshape(-1, 20), target[:, 1:].reshape(-1))
optimizer.zero_grad()
loss.backward()
optimizer.step()
print(f"loss {loss.item():.4f}")
