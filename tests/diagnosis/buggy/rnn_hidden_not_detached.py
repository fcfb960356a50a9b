"""A character model that carries the GRU's hidden state from one batch to the next without
detaching it: the second batch's backward() reaches into the first batch's freed graph."""
import torch
from torch import nn

torch.manual_seed(9)
vocab, hidden = 30, 24
embed = nn.Embedding(vocab, 16)
gru = nn.GRU(16, hidden, batch_first=True)
decoder = nn.Linear(hidden, vocab)
params = [*embed.parameters(), *gru.parameters(), *decoder.parameters()]
opt = torch.optim.Adam(params, lr=2e-3)
stream = torch.randint(0, vocab, (4, 41))
state = torch.zeros(1, 4, hidden)
for start in range(0, 40, 10):
    inputs, targets = stream[:, start:start + 10], stream[:, start + 1:start + 11]
    outputs, state = gru(embed(inputs), state)  # CULPRIT
    loss = nn.functional.cross_entropy(decoder(outputs).reshape(-1, vocab), targets.reshape(-1))
    opt.zero_grad()
    loss.backward()
    opt.step()
