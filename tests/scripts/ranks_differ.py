"""Two ranks (gloo) train the same model, but each rank also trains a head of its own: `head0` gets
gradients only on rank 0 and `head1` only on rank 1, the parameters DDP calls "unused" on the other
rank. Rank 1 also backpropagates a weight penalty in a backward call of its own, so the ranks make
different numbers of backward calls per step (one on rank 0, two on rank 1).

Prints a line per finished step. With a folder as argv[1], each rank writes what PyTorch itself says
to FOLDER/facts.rankN.json when it ends (also when --stop-after ends it, from inside backward()):
the backward calls it started, the steps it finished, and for every parameter whether it requires
grad, ever had a gradient after a backward call, and sits in the optimizer.
"""
import json
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = nn.ModuleDict({"body": nn.Linear(4, 4), "head0": nn.Linear(4, 1), "head1": nn.Linear(4, 1)})
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(8, 4)

calls, steps, got_grad = 0, 0, set()


def note_grads():
    got_grad.update(name for name, p in model.named_parameters() if p.grad is not None)


try:
    for step in range(4):
        optimizer.zero_grad()
        if rank == 1:
            penalty = 1e-3 * model["body"].weight.pow(2).sum()
            calls += 1
            penalty.backward()
            note_grads()
        hidden = model["body"](x).relu()
        loss = hidden.pow(2).mean() + model[f"head{rank}"](hidden).mean()
        calls += 1
        loss.backward()
        note_grads()
        optimizer.step()
        steps += 1
        print(f"rank {rank} step {step} done", flush=True)
finally:
    note_grads()  # --stop-after raised SystemExit from inside backward(), after the gradients were in
    if len(sys.argv) > 1:
        in_optimizer = {id(p) for group in optimizer.param_groups for p in group["params"]}
        facts = {"rank": rank, "world_size": dist.get_world_size(), "backward_calls": calls, "steps": steps,
                 "params": {f"model.{name}": {"requires_grad": p.requires_grad, "got_grad": name in got_grad,
                                              "grad_is_none": p.grad is None, "in_optimizer": id(p) in in_optimizer}
                            for name, p in model.named_parameters()}}
        with open(os.path.join(sys.argv[1], f"facts.rank{rank}.json"), "w", encoding="utf-8") as fh:
            json.dump(facts, fh)
dist.destroy_process_group()
