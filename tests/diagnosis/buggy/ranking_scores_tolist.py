"""A pairwise ranking loss built from Python lists: .tolist() takes the scores out of the graph and
the loss rebuilt from them with torch.tensor cannot be backpropagated."""
import torch
from torch import nn

torch.manual_seed(2)
scorer = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1))
opt = torch.optim.Adam(scorer.parameters(), lr=1e-3)
queries = torch.randn(20, 16)
relevance = torch.rand(20)

for step in range(3):
    scores = scorer(queries).squeeze(1).tolist()  # CULPRIT
    pairs = []
    for i in range(len(scores)):
        for j in range(len(scores)):
            if relevance[i] > relevance[j]:
                pairs.append(max(0.0, 1.0 - (scores[i] - scores[j])))
    loss = torch.tensor(pairs).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(step, float(loss))
