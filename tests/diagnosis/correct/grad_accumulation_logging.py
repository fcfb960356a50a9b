"""Gradient accumulation over micro-batches, with the running loss logged through detach() and .item()."""
import torch
from torch import nn

torch.manual_seed(24)
model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
opt = torch.optim.SGD(model.parameters(), lr=0.05)
accum = 4
data, labels = torch.randn(32, 6), torch.randint(0, 2, (32,))

running = torch.zeros(())
history = []
opt.zero_grad()
for i, (xb, yb) in enumerate(zip(data.split(4), labels.split(4))):
    logits = model(xb)
    loss = nn.functional.cross_entropy(logits, yb) / accum
    loss.backward()
    running += loss.detach()
    acc = (logits.argmax(dim=1) == yb).float().mean()
    history.append(acc.item())
    if (i + 1) % accum == 0:
        opt.step()
        opt.zero_grad()
        print(f"step {(i + 1) // accum} loss {running.item():.4f} acc {sum(history) / len(history):.2f}")
        running.zero_()
