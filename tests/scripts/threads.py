"""Backward inside worker threads; each thread reports what torch says about its tensors."""
import json
import sys
import threading

import torch

results = {}


def work(i):
    w = torch.full((3,), float(i + 1), requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    results[i] = w.grad.tolist()


threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({str(k): v for k, v in sorted(results.items())}))
