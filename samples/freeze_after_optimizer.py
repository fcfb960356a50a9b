"""Freeze the first convolution *after* building the optimizer.

The frozen weight still gets no gradient and is not updated, but the optimizer holds every
parameter, the frozen one included.
"""
import torch
from torch import nn


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, 4, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.conv2 = nn.Sequential(nn.Conv2d(4, 8, kernel_size=3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.out = nn.Linear(8 * 2 * 2, 3)

    def forward(self, x):
        x = self.conv1(x)
        x = self.conv2(x)
        return self.out(x.flatten(1))


torch.manual_seed(0)
cnn = CNN()
optimizer = torch.optim.Adam(cnn.parameters(), lr=1e-3)
cnn.conv1[0].weight.requires_grad = False
print("parameters held by the optimizer:", sum(len(g["params"]) for g in optimizer.param_groups))

images = torch.randn(2, 1, 8, 8)
labels = torch.tensor([0, 2])
loss = nn.functional.cross_entropy(cnn(images), labels)
optimizer.zero_grad()
loss.backward()
optimizer.step()
print("conv1.0.weight.grad is None:", cnn.conv1[0].weight.grad is None)
