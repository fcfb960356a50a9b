"""Truncated backpropagation through time: the hidden state is detached between chunks (correct)."""
import torch
from torch import nn

torch.manual_seed(0)
rnn = nn.RNNCell(3, 16)
readout = nn.Linear(16, 1)
optimizer = torch.optim.Adam([*rnn.parameters(), *readout.parameters()], lr=1e-2)
sequence, targets = torch.randn(40, 2, 3), torch.randn(40, 2, 1)

hidden = torch.zeros(2, 16)
for start in range(0, 40, 10):
    hidden = hidden.detach()
    loss = 0.0
    for t in range(start, start + 10):
        hidden = rnn(sequence[t], hidden)
        loss = loss + nn.functional.mse_loss(readout(hidden), targets[t])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("loss", loss.item())
