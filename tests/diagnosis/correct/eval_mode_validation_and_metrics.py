"""Training with a validation pass under model.eval() only (no no_grad: wasteful, not wrong), metrics
through float()/.item()/NumPy, loss history kept as a tensor of Python floats, a constant made
with x.new_tensor([...]) from a list, and a safe sqrt feature via clamp_min inside torch.where."""
import numpy as np
import torch
from torch import nn

torch.manual_seed(33)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 16)
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):
        h = self.fc1(x)
        h = torch.where(h > 0, torch.sqrt(h.clamp_min(1e-6)), torch.zeros_like(h))
        weights = x.new_tensor([1.0, 0.5, 2.0])
        return self.fc2(self.drop(h)) * weights


model = Net()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
xtr, ytr = torch.randn(48, 6), torch.randint(0, 3, (48,))
xva, yva = torch.randn(16, 6), torch.randint(0, 3, (16,))
history = []
for epoch in range(4):
    model.train()
    loss = nn.functional.cross_entropy(model(xtr), ytr)
    opt.zero_grad()
    loss.backward()
    opt.step()
    model.eval()
    val_logits = model(xva)
    val_loss = nn.functional.cross_entropy(val_logits, yva)
    acc = float((val_logits.argmax(1) == yva).float().mean())
    probs = torch.from_numpy(val_logits.softmax(1).detach().numpy())
    history.append(val_loss.item())
    print(epoch, round(loss.item(), 4), round(acc, 3), round(float(np.max(probs.numpy())), 3))
print("history", torch.tensor(history).round(decimals=3).tolist())
