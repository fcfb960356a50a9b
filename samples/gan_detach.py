"""The GAN pattern: the discriminator's loss must not reach the generator's output.

z stands for the generator's output, y for a discriminator weight; z1 = z.detach() is what the
discriminator sees, so backward gives y a gradient and leaves z without one.
"""
import torch

y = torch.tensor([3.0, 4.0], requires_grad=True)
z = torch.tensor([3.0, 2.0], requires_grad=True)
z1 = z.detach()
z2 = z1 + y
y1 = torch.sum(3 * z2)
y1.backward()
print(z2, z2.requires_grad)
print(y.grad)
print(z2.grad)
print(z1.grad)
