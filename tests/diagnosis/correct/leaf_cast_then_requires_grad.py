"""Linear regression by hand in float64: the weights are cast first and requires_grad_() is
called last, so they are leaves and .grad is filled; updates under no_grad, grads set to None."""
import torch

torch.manual_seed(31)
X = torch.randn(50, 3, dtype=torch.float64)
y = X @ torch.tensor([[1.5], [-2.0], [0.5]], dtype=torch.float64) + 0.05 * torch.randn(50, 1, dtype=torch.float64)

w = torch.randn(3, 1).double().requires_grad_()
b = torch.zeros(1).to(torch.float64).requires_grad_(True)
lr = 0.2
for epoch in range(25):
    loss = ((X @ w + b - y) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        w -= lr * w.grad
        b -= lr * b.grad
    w.grad = None
    b.grad = None
print("w", [round(v, 3) for v in w.flatten().tolist()], "leaf:", w.is_leaf, "loss", round(loss.item(), 5))
