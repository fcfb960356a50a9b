"""Top-1 mixture of experts. The router's choice is taken with argmax and used only as an index,
so the router never learns anything."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(1)


class TinyMoE(nn.Module):
    def __init__(self, dim=8, n_experts=4, n_classes=3):
        super().__init__()
        self.router = nn.Linear(dim, n_experts)
        self.experts = nn.ModuleList(nn.Linear(dim, dim) for _ in range(n_experts))
        self.head = nn.Linear(dim, n_classes)

    def forward(self, x):
        choice = self.router(x).argmax(dim=-1)  # CULPRIT
        out = torch.zeros_like(x)
        for e, expert in enumerate(self.experts):
            sel = choice == e
            if sel.any():
                out[sel] = expert(x[sel])
        return self.head(F.relu(out))


net = TinyMoE()
optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
xs, ys = torch.randn(48, 8), torch.randint(0, 3, (48,))
for step in range(4):
    logits = net(xs)
    loss = F.cross_entropy(logits, ys)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print("final loss", round(loss.item(), 4))
