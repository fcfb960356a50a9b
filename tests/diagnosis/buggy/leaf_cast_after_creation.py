"""Linear regression by hand. The weights are cast to double after requires_grad=True, so the
names hold non-leaf tensors whose .grad is never filled."""
import torch

torch.manual_seed(18)
X = torch.randn(50, 3, dtype=torch.float64)
true_w = torch.tensor([[1.5], [-2.0], [0.5]], dtype=torch.float64)
y = X @ true_w + 0.1 * torch.randn(50, 1, dtype=torch.float64)

w = torch.randn(3, 1, requires_grad=True).double()  # CULPRIT
b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
lr = 0.1
for epoch in range(20):
    loss = ((X @ w + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        if w.grad is not None:
            w -= lr * w.grad
        b -= lr * b.grad
        b.grad.zero_()
print("w", w.flatten().tolist(), "loss", loss.item())
