"""A detached tensor shares storage with its source: writing one changes the other."""
import torch

z = torch.tensor([3.0, 2.0], requires_grad=True)
z1 = z.detach()
z1[0] = 5.0
print(z)
print(z1)
