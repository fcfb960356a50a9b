"""meta device, complex, float64 and sparse tensors through backward."""
import torch
import _facts

m = torch.ones(3, device="meta", requires_grad=True)
mloss = (m * 2).sum()
mloss.backward()
z = torch.tensor([1 + 1j, 2 - 1j], requires_grad=True)
zloss = (z.abs() ** 2).sum()
zloss.backward()
d = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
dloss = (d * d).sum()
dloss.backward()
s = torch.sparse_coo_tensor([[0, 1]], [3.0, 4.0], (3,), requires_grad=True)
sloss = torch.sparse.sum(s * 2)
sloss.backward()
_facts.dump(m=m, mloss=mloss, z=z, zloss=zloss, d=d, dloss=dloss, s=s, sloss=sloss)
