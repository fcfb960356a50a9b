"""Computing a validation loss with grad enabled, then post-processing the activations in place.

`torch.exp` saved its output, and `scores.div_()` modified it. Nothing raises only because this
graph is never backpropagated: the same code in a training step would fail.
"""
import torch
from torch import nn

torch.manual_seed(0)
layer = nn.Linear(5, 3)
x = torch.randn(10, 5)
scores = torch.exp(layer(x))
val_loss = scores.sum(dim=1).log().mean()
scores.div_(scores.sum(dim=1, keepdim=True))
print("validation loss:", val_loss.item())
print("probabilities:", scores[0])
