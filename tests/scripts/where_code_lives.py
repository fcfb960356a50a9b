"""The same facts whatever this script is called and wherever it is kept (tests/test_where_code_lives.py
copies it to grad_mode.py, torch/overrides.py, torch/nn/utils/clip_grad.py, site-packages/proj/train.py).
Prints what PyTorch says about its tensors, as JSON, then raises (its traceback is the user's too)."""
import json

import torch
import torch.nn.functional as F

w = torch.randn(3, requires_grad=True)
with torch.no_grad():
    scaled = w * 2


@torch.no_grad()
def evaluate(t):
    return t + 1


evaluated = evaluate(w)
detached = w.detach()
copied = torch.tensor(detached)  # warns (from C++) at this line
hidden = w * scaled
loss = F.mse_loss(hidden, torch.zeros(1, 3)) + evaluated.sum() * hidden.sum()
loss.backward()
torch.nn.utils.clip_grad_norm_([w], max_norm=1.0)
facts = {name: {"requires_grad": t.requires_grad, "is_leaf": t.is_leaf}
         for name, t in (("w", w), ("scaled", scaled), ("evaluated", evaluated), ("detached", detached),
                         ("copied", copied), ("hidden", hidden), ("loss", loss))}
print(json.dumps(facts))


def finish():
    raise ValueError("the end")


finish()
