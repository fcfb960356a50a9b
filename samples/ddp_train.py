"""DistributedDataParallel on CPU (gloo): run with `torchrun --nproc-per-node 2 samples/ddp_train.py`,
or traced: `torchrun --nproc-per-node 2 -m gradscope trace --json cap.json samples/ddp_train.py`
(one capture per rank: cap.rank0.json, cap.rank1.json).

The first layer's bias is frozen, and each rank feeds its own batch; DDP averages the gradients.
With `--facts DIR`, each rank writes what PyTorch itself says about every parameter to
DIR/facts.rankN.json, for comparing with gradscope's captures.
"""

import json
import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)  # the same initial weights on every rank
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))
model[0].bias.requires_grad_(False)
ddp = DistributedDataParallel(model)
optimizer = torch.optim.SGD([p for p in ddp.parameters() if p.requires_grad], lr=0.1)

torch.manual_seed(1 + rank)  # each rank its own data
inputs = torch.randn(4, 8)
targets = torch.randn(4, 1)
for step in range(3):
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(ddp(inputs), targets)
    loss.backward()
    optimizer.step()
print(f"rank {rank}: loss {loss.item():.4f}")

if "--facts" in sys.argv:
    folder = sys.argv[sys.argv.index("--facts") + 1]
    facts = {
        "rank": rank,
        "world_size": dist.get_world_size(),
        "loss": {"requires_grad": loss.requires_grad, "grad_fn": type(loss.grad_fn).__name__},
        "backward_calls": step + 1,
        "params": {name: {"requires_grad": p.requires_grad, "grad_is_none": p.grad is None,
                          "grad": None if p.grad is None else p.grad.flatten().tolist(),
                          "shape": list(p.shape)} for name, p in ddp.named_parameters()},
    }
    with open(os.path.join(folder, f"facts.rank{rank}.json"), "w", encoding="utf-8") as fh:
        json.dump(facts, fh)
dist.destroy_process_group()
