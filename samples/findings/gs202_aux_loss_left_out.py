"""Multi-task training where the auxiliary loss is computed but left out of the total.

The depth head only feeds `aux_loss`, which is never backpropagated: its parameters get no gradient.
"""
import torch
from torch import nn


class MultiTask(nn.Module):
    def __init__(self):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(8, 32), nn.ReLU())
        self.cls_head = nn.Linear(32, 3)
        self.depth_head = nn.Linear(32, 1)

    def forward(self, x):
        h = self.trunk(x)
        return self.cls_head(h), self.depth_head(h)


def train():
    torch.manual_seed(0)
    model = MultiTask()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    x, labels, depth = torch.randn(32, 8), torch.randint(0, 3, (32,)), torch.randn(32, 1)
    for step in range(3):
        logits, pred_depth = model(x)
        main_loss = nn.functional.cross_entropy(logits, labels)
        aux_loss = nn.functional.l1_loss(pred_depth, depth)
        total = main_loss  # forgot: + 0.1 * aux_loss
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
    print("depth_head.weight.grad is None:", model.depth_head.weight.grad is None)
    return model


model = train()
