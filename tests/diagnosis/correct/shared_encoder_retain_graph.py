"""Two heads on one encoder, backpropagated one after the other: the first backward keeps the
graph with retain_graph=True, so the second one can go through the encoder again."""
import torch
from torch import nn

torch.manual_seed(22)
encoder = nn.Sequential(nn.Linear(10, 32), nn.ReLU())
cls_head = nn.Linear(32, 3)
reg_head = nn.Linear(32, 1)
opt = torch.optim.Adam([*encoder.parameters(), *cls_head.parameters(), *reg_head.parameters()], lr=1e-3)
x = torch.randn(16, 10)
labels, values = torch.randint(0, 3, (16,)), torch.randn(16, 1)

for step in range(3):
    shared = encoder(x)
    cls_loss = nn.functional.cross_entropy(cls_head(shared), labels)
    reg_loss = nn.functional.mse_loss(reg_head(shared), values)
    opt.zero_grad()
    cls_loss.backward(retain_graph=True)
    reg_loss.backward()
    opt.step()
    losses = torch.stack([cls_loss.detach(), reg_loss.detach()])
    print(step, losses.tolist())
