"""LoRA fine-tuning: the pretrained linear layers are frozen and low-rank adapters are trained."""
import torch
from torch import nn

torch.manual_seed(23)


class LoRALinear(nn.Module):
    def __init__(self, base: nn.Linear, rank=2, alpha=4.0):
        super().__init__()
        self.base = base
        self.base.weight.requires_grad_(False)
        self.base.bias.requires_grad_(False)
        self.A = nn.Parameter(torch.randn(rank, base.in_features) * 0.01)
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x):
        return self.base(x) + (x @ self.A.t() @ self.B.t()) * self.scale


backbone = nn.Sequential(nn.Linear(10, 10), nn.ReLU(), nn.Linear(10, 3))
backbone[0] = LoRALinear(backbone[0])
backbone[2] = LoRALinear(backbone[2])
trainable = [p for p in backbone.parameters() if p.requires_grad]
opt = torch.optim.AdamW(trainable, lr=1e-2)
x, y = torch.randn(16, 10), torch.randint(0, 3, (16,))
for step in range(3):
    loss = nn.functional.cross_entropy(backbone(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
print(loss.item())
