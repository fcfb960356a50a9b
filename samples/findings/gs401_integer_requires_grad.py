"""Saliency for a text classifier: asking for gradients with respect to the token ids.

Token ids are integers, which cannot require grad; the embedding output is the tensor to use.
"""
import torch
from torch import nn

torch.manual_seed(0)
embed = nn.Embedding(100, 16)
classifier = nn.Linear(16, 2)
tokens = torch.randint(0, 100, (1, 7))
vectors = embed(tokens)
tokens.requires_grad_(True)
score = classifier(vectors.mean(dim=1))[0, 1]
score.backward()
