"""A cosine classifier whose learnable logit scale is a plain tensor attribute with
requires_grad=True, not an nn.Parameter: it gets gradients, but model.parameters() (and so the
optimizer) leaves it out, and it stays 10.0."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)


class ConvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class CosineClassifier(nn.Module):
    """Small CNN with a cosine-similarity head and a learnable logit scale."""

    def __init__(self, num_classes=5):
        super().__init__()
        self.features = nn.Sequential(
            ConvBlock(3, 16), nn.MaxPool2d(2), ConvBlock(16, 32), nn.AdaptiveAvgPool2d(1)
        )
        self.prototypes = nn.Parameter(torch.randn(num_classes, 32) * 0.1)
        # learnable temperature (initialised like in the paper)
        self.scale = torch.full((1,), 10.0, requires_grad=True)  # CULPRIT

    def forward(self, x):
        f = self.features(x).flatten(1)
        f = F.normalize(f, dim=1)
        w = F.normalize(self.prototypes, dim=1)
        return self.scale * (f @ w.t())


def make_batch(n=32):
    x = torch.randn(n, 3, 16, 16)
    y = torch.randint(0, 5, (n,))
    x[torch.arange(n), y % 3] += 1.0  # class signal in one channel
    return x, y


model = CosineClassifier()
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
for step in range(20):
    x, y = make_batch()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    if step % 5 == 0:
        acc = (logits.argmax(1) == y).float().mean().item()
        print(f"step {step} loss {loss.item():.4f} acc {acc:.2f} scale {model.scale.item():.3f}")
print("done")
