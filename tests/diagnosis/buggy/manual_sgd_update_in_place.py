"""Linear regression trained by hand: the update `w -= lr * w.grad` runs with gradient tracking on,
and PyTorch refuses an in-place op on a leaf that requires grad."""
import torch

torch.manual_seed(11)
X = torch.randn(100, 3)
true_w = torch.tensor([[2.0], [-1.0], [0.5]])
Y = X @ true_w + 0.1 * torch.randn(100, 1)

w = torch.zeros(3, 1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
lr = 0.1
for epoch in range(20):
    pred = X @ w + b
    loss = ((pred - Y) ** 2).mean()
    loss.backward()
    w -= lr * w.grad  # CULPRIT
    b -= lr * b.grad
    w.grad.zero_()
    b.grad.zero_()
print(w.view(-1).tolist())
