"""Features computed once under torch.inference_mode() 'for speed' and then fed to the trainable
head: backward raises because inference tensors cannot be saved for backward."""
import torch
from torch import nn

torch.manual_seed(6)
backbone = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 32))
head = nn.Linear(32, 5)
opt = torch.optim.SGD(list(backbone.parameters()) + list(head.parameters()), lr=0.01)
x = torch.randn(40, 20)
y = torch.randint(0, 5, (40,))


def embed(batch):
    with torch.inference_mode():  # CULPRIT
        return backbone(batch)


for epoch in range(2):
    feats = embed(x)
    loss = nn.functional.cross_entropy(head(feats), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(epoch, loss.item())
