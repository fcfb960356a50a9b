"""Backward called a known number of times from two lines; prints how often each line ran (as JSON)."""
import json

import torch

w = torch.ones(3, requires_grad=True)
ran = {"loop": 0, "after": 0}
for i in range(7):
    ran["loop"] += 1
    (w * i).sum().backward()
for i in range(2):
    ran["after"] += 1
    (w ** 2).sum().backward()
print(json.dumps(ran))
