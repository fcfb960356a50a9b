"""Fine-tuning whose backbone call sits under torch.no_grad() (copied from an evaluation helper), in a
script that also snapshots a backbone weight with .detach().clone() to print whether it moved: the
backbone never trains; the snapshot is logging, not the cause."""
import torch
import torch.nn.functional as F
from torch import nn

torch.manual_seed(3)
backbone = nn.Sequential(nn.Linear(12, 32), nn.GELU(), nn.Linear(32, 32), nn.LayerNorm(32))
head = nn.Linear(32, 4)
opt = torch.optim.AdamW(list(backbone.parameters()) + list(head.parameters()), lr=1e-3)
first_before = backbone[0].weight.detach().clone()
x, y = torch.randn(64, 12), torch.randint(0, 4, (64,))
for step in range(4):
    with torch.no_grad():  # CULPRIT
        feats = backbone(x)
    loss = F.cross_entropy(head(feats), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    print(f"step {step} loss {loss.item():.4f}")
print("backbone moved:", not torch.equal(first_before, backbone[0].weight))
