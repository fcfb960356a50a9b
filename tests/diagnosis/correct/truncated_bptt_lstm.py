"""Character-level LSTM language model trained with truncated BPTT: the state is detached between
chunks."""
import torch
from torch import nn

torch.manual_seed(21)
vocab, hidden, chunk = 20, 24, 8
embed = nn.Embedding(vocab, hidden)
lstm = nn.LSTM(hidden, hidden, batch_first=True)
proj = nn.Linear(hidden, vocab)
params = [*embed.parameters(), *lstm.parameters(), *proj.parameters()]
opt = torch.optim.Adam(params, lr=3e-3)
stream = torch.randint(0, vocab, (2, 33))

state = None
for start in range(0, 32, chunk):
    inp = stream[:, start:start + chunk]
    tgt = stream[:, start + 1:start + chunk + 1]
    if state is not None:
        state = tuple(s.detach() for s in state)
    out, state = lstm(embed(inp), state)
    loss = nn.functional.cross_entropy(proj(out).reshape(-1, vocab), tgt.reshape(-1))
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
print("loss", loss.item())
