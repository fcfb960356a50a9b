"""Logistic regression trained by hand: updates under torch.no_grad(), gradients zeroed in place,
evaluation with torch.set_grad_enabled(False) used as a block, metrics via .item() and NumPy."""
import numpy as np
import torch

torch.manual_seed(21)
X = torch.randn(120, 4)
y = (X[:, 0] - 0.5 * X[:, 2] > 0).float()
w = torch.zeros(4, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.5

for epoch in range(15):
    logits = X @ w + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y)
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
    with torch.set_grad_enabled(False):
        acc = ((X @ w + b > 0).float() == y).float().mean()
    probs = torch.sigmoid(logits).detach().numpy()
    print(epoch, round(loss.item(), 4), acc.item(), float(np.mean(probs)))
