"""An error raised inside torch (shape mismatch) while gradscope's mode is active."""
import torch

a = torch.ones(2, 3)
b = torch.ones(4, 5)
c = a @ b
