"""Hooks registered by the script must still fire, in the same order, as under python."""
import torch

torch.manual_seed(0)
fired = []
lin = torch.nn.Linear(2, 1)
lin.register_forward_pre_hook(lambda m, a: fired.append("pre"))
lin.register_forward_hook(lambda m, a, o: fired.append("fwd"))
lin.register_full_backward_hook(lambda m, gi, go: fired.append("module-bwd"))
lin.weight.register_post_accumulate_grad_hook(lambda p: fired.append("post-acc"))
x = torch.ones(1, 2, requires_grad=True)
x.register_hook(lambda g: fired.append("x-grad") or g * 2)
y = lin(x)
y.register_hook(lambda g: fired.append("y-grad"))
y.sum().backward()
print(fired, x.grad.tolist())
