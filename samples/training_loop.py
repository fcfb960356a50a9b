"""A small, realistic training loop: an MLP classifier, Adam, a few epochs of mini-batches."""
import torch
from torch import nn


def make_data(n=256, features=8, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, features, generator=g)
    targets = (inputs[:, 0] > 0).long() + (inputs[:, 1] > 0.5).long()
    return inputs, targets.clamp(max=classes - 1)


class MLP(nn.Module):
    def __init__(self, features=8, hidden=32, classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.head(self.body(x))


def train(epochs=3, batch_size=64):
    torch.manual_seed(0)
    inputs, targets = make_data()
    model = MLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        total = 0.0
        for start in range(0, len(inputs), batch_size):
            xb = inputs[start:start + batch_size]
            yb = targets[start:start + batch_size]
            logits = model(xb)
            loss = criterion(logits, yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch}: mean loss {total / (len(inputs) // batch_size):.4f}")
    with torch.no_grad():
        accuracy = (model(inputs).argmax(dim=1) == targets).float().mean()
    print(f"accuracy {accuracy.item():.2f}")
    return model


if __name__ == "__main__":
    train()
