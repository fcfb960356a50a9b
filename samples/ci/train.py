"""A small image classifier trained for a few steps, with the switches a refactor tends to flip.

    python samples/ci/train.py                      # stem frozen, blocks and head train
    python samples/ci/train.py --detach-features    # a refactor detaches the features: blocks stop training
    python samples/ci/train.py --head-lr 0          # the head is left out of the optimizer

Pin the intended gradient flow with `gradscope check` (see README, "Gradient flow in CI").
"""
import argparse

import torch
from torch import nn

parser = argparse.ArgumentParser()
parser.add_argument("--steps", type=int, default=3)
parser.add_argument("--detach-features", action="store_true")
parser.add_argument("--head-lr", type=float, default=0.1)
args = parser.parse_args()


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x):
        return x + self.conv2(torch.relu(self.conv1(x)))


class Classifier(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.blocks = nn.Sequential(Block(8), Block(8))
        self.head = nn.Linear(8, classes)

    def forward(self, images):
        features = self.blocks(self.stem(images)).mean(dim=(2, 3))
        if args.detach_features:
            features = features.detach()
        return self.head(features)


torch.manual_seed(0)
model = Classifier()
for p in model.stem.parameters():  # the stem comes pretrained: keep it fixed
    p.requires_grad = False
groups = [{"params": model.blocks.parameters(), "lr": 0.05}]
if args.head_lr > 0:
    groups.append({"params": model.head.parameters(), "lr": args.head_lr})
optimizer = torch.optim.SGD(groups, momentum=0.9)

images, labels = torch.randn(16, 3, 12, 12), torch.randint(0, 10, (16,))
for step in range(args.steps):
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(images), labels)
    loss.backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item():.4f}")
