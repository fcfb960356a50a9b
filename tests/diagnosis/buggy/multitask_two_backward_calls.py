"""Two task heads on one encoder, each loss backpropagated on its own: the second backward()
goes through the encoder's graph again after the first one freed it."""
import torch
from torch import nn

torch.manual_seed(8)
encoder = nn.Sequential(nn.Linear(10, 32), nn.ReLU())
cls_head = nn.Linear(32, 3)
reg_head = nn.Linear(32, 1)
params = [*encoder.parameters(), *cls_head.parameters(), *reg_head.parameters()]
opt = torch.optim.Adam(params, lr=1e-3)
x = torch.randn(16, 10)
labels, values = torch.randint(0, 3, (16,)), torch.randn(16, 1)

for step in range(3):
    shared = encoder(x)
    cls_loss = nn.functional.cross_entropy(cls_head(shared), labels)
    reg_loss = nn.functional.mse_loss(reg_head(shared), values)
    opt.zero_grad()
    cls_loss.backward()  # CULPRIT
    reg_loss.backward()
    opt.step()
