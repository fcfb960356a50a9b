"""A DataLoader with two worker processes plus a multiprocessing pool using a function defined here."""
import multiprocessing as mp

import torch
from torch.overrides import _get_current_function_mode_stack
from torch.utils.data import DataLoader, Dataset


class Squares(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        modes = len(_get_current_function_mode_stack())  # workers run as under plain python: none
        return torch.tensor([float(i)]), torch.tensor([float(i * i)]), torch.tensor(modes)


def double(v):
    return v * 2


def main():
    model = torch.nn.Linear(1, 1)
    loader = DataLoader(Squares(), batch_size=4, num_workers=2)
    seen = modes = 0
    for x, y, m in loader:
        modes += int(m.sum())
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        seen += len(x)
    with mp.get_context("spawn").Pool(1) as pool:
        doubled = pool.map(double, [1, 2, 3])
    print("seen", seen, "doubled", doubled, "modes in workers", modes)


if __name__ == "__main__":
    main()
