"""Attention-style -inf masks under --nan: a causal mask made with triu(full(-inf)) and padding
filled with -inf, which softmax turns into zeros (healthy), and, with the argument `product`, a
soft-target loss that multiplies the log-probabilities by a target that is 0 where the logits are
-inf: 0 * -inf = NaN from the step masks begin. Prints the first step whose loss was NaN (-1: none)."""
import sys

import torch
from torch import nn

torch.manual_seed(0)
product = sys.argv[1:] == ["product"]
T, D = 5, 8
proj = nn.Linear(D, D)
scorer = nn.Linear(D, T)
opt = torch.optim.SGD([*proj.parameters(), *scorer.parameters()], lr=0.05)
causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
first_bad = -1
for step in range(8):
    x = torch.randn(3, T, D)
    pad = torch.zeros(3, T, dtype=torch.bool)
    pad[0, -1] = step >= 2  # the first sequence is one shorter from step 2 on
    scores = proj(x) @ x.transpose(1, 2) / D ** 0.5 + causal
    scores = scores.masked_fill(pad[:, None, :], float("-inf"))
    attended = torch.softmax(scores, dim=-1) @ x
    logits = scorer(attended.mean(dim=1)).masked_fill(pad, float("-inf"))
    logp = torch.log_softmax(logits, dim=-1)
    if product:
        target = torch.softmax(torch.randn(3, T), dim=-1) * ~pad
        target = target / target.sum(dim=-1, keepdim=True)
        loss = -(target * logp).sum(dim=-1).mean()  # NaN line
    else:
        loss = nn.functional.nll_loss(logp, torch.zeros(3, dtype=torch.long))
    opt.zero_grad()
    loss.backward()
    opt.step()
    if first_bad < 0 and not torch.isfinite(loss):
        first_bad = step
print("first NaN step:", first_bad)
