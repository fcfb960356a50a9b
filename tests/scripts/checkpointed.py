import torch
from torch.utils.checkpoint import checkpoint
import _facts

lin = torch.nn.Linear(2, 2)
x = torch.ones(1, 2, requires_grad=True)
a = checkpoint(lin, x, use_reentrant=True).sum()
a.backward()
reentrant_grad = lin.weight.grad.clone()
lin.weight.grad = None
b = checkpoint(lin, x, use_reentrant=False).sum()
b.backward()
_facts.dump({"same": bool(torch.equal(reentrant_grad, lin.weight.grad))}, x=x, a=a, b=b, weight=lin.weight,
            bias=lin.bias)
