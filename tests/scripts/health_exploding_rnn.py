"""A vanilla ReLU RNN trained on a loss with no floor: its recurrent weights grow every step and
its gradients grow by more than 100x over about 20 steps (still finite)."""
import torch
from torch import nn

torch.manual_seed(0)
rnn = nn.RNN(8, 16, nonlinearity="relu", batch_first=True)
head = nn.Linear(16, 1)
with torch.no_grad():
    rnn.weight_hh_l0.copy_(torch.eye(16) * 0.9)
opt = torch.optim.SGD(list(rnn.parameters()) + list(head.parameters()), lr=2e-4)
x = torch.rand(4, 30, 8)
for step in range(25):
    out, _ = rnn(x)
    loss = -head(out[:, -1]).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
