"""A module with a complex parameter beside a real one: torch's total gradient norm (what
clip_grad_norm_ returns) counts both; gradscope's model norm must too."""
import torch


class Mixed(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.wc = torch.nn.Parameter(torch.full((2, 2), 1 + 1j))
        self.wr = torch.nn.Parameter(torch.ones(2, 2))

    def forward(self, x):
        return (x @ self.wc).abs().sum() + (x.real @ self.wr).sum()


m = Mixed()
loss = m(torch.ones(1, 2, dtype=torch.cfloat))
loss.backward()
print(torch.nn.utils.clip_grad_norm_(m.parameters(), 1e9).item())
