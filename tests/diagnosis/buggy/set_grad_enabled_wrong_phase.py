"""A train/val loop with `torch.set_grad_enabled(phase == "training")` while the phase is
called "train": the condition is always False, the loss has no graph and backward fails."""
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(4)


class MultiTaskNet(nn.Module):
    """Shared trunk, one regression head and one classification head."""

    def __init__(self, d_in=10):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(d_in, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU())
        self.reg_head = nn.Linear(32, 1)
        self.cls_head = nn.Linear(32, 2)

    def forward(self, x):
        h = self.trunk(x)
        return self.reg_head(h).squeeze(-1), self.cls_head(h)


def make_loader(n_batches, bs=16):
    data = []
    for _ in range(n_batches):
        x = torch.randn(bs, 10)
        data.append((x, x[:, :3].sum(1), (x[:, 0] > 0).long()))
    return data


loaders = {"train": make_loader(8), "val": make_loader(2)}
model = MultiTaskNet()
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

for epoch in range(2):
    for phase in ["train", "val"]:
        model.train(phase == "train")
        running = 0.0
        for x, y_reg, y_cls in loaders[phase]:
            with torch.set_grad_enabled(phase == "training"):  # CULPRIT
                pred_reg, logits = model(x)
                loss = F.mse_loss(pred_reg, y_reg) + 0.5 * F.cross_entropy(logits, y_cls)
            if phase == "train":
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            running += loss.item()
        print(f"epoch {epoch} {phase} loss {running / len(loaders[phase]):.4f}")
