"""backward through a tensor modified in place: torch raises inside backward."""
import torch
import torch.nn.functional as F
x = torch.ones(2, requires_grad=True)
y = x * 2
y.add_(1)
z = x.sin()
x.data.mul_(2)
w = torch.ones(2, requires_grad=True)
a = w.sigmoid()
a.mul_(2)
a.sum().backward()
