"""A training step that fails at its second call: the first backward turns grad mode off for good.
Just before re-raising, the step writes what PyTorch says of each tensor in its locals."""
import torch
import _facts


def train_step(weights, batch):
    hidden = torch.tanh(batch @ weights)
    score = hidden.sum()
    try:
        score.backward()
    except RuntimeError:
        _facts.dump(**{name: value for name, value in locals().items() if isinstance(value, torch.Tensor)})
        raise
    torch.set_grad_enabled(False)  # meant for evaluation, never turned back on
    return score


w = torch.randn(3, 2, requires_grad=True)
for step in range(2):
    train_step(w, torch.randn(4, 3))
