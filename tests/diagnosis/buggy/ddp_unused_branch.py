"""A model wrapped in DistributedDataParallel has an auxiliary head that forward() never uses:
the second iteration raises 'Expected to have finished reduction in the prior iteration'."""
import os
import tempfile

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 16), nn.ReLU())
        self.head = nn.Linear(16, 2)
        self.aux_head = nn.Linear(16, 4)  # CULPRIT

    def forward(self, x):
        return self.head(self.body(x))


store = os.path.join(tempfile.mkdtemp(), "store")
dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
torch.manual_seed(24)
model = DDP(Net())
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x, y = torch.randn(16, 8), torch.randint(0, 2, (16,))
try:
    for step in range(3):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
finally:
    dist.destroy_process_group()
