"""A 6-layer TransformerEncoder (d_model 32) on a small batch: a loop over identical layers."""
import torch
from torch import nn

torch.manual_seed(0)
layer = nn.TransformerEncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0, batch_first=True)
encoder = nn.TransformerEncoder(layer, num_layers=6, enable_nested_tensor=False)
head = nn.Linear(32, 1)
x = torch.randn(2, 5, 32)
loss = head(encoder(x)).mean()
loss.backward()
print(round(loss.item(), 4))
