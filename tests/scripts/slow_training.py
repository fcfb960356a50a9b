"""A training run that takes 20 s under plain python: 100 steps, each sleeping 0.2 s (a stand-in
for data loading). Prints a line per finished step, and says when `finally`, `with` and `atexit` run."""
import atexit
import contextlib
import time

import torch

atexit.register(lambda: print("atexit ran", flush=True))


@contextlib.contextmanager
def run_context():
    try:
        yield
    finally:
        print("with exited", flush=True)


model = torch.nn.Linear(4, 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
data = torch.randn(8, 4)
with run_context():
    try:
        for step in range(100):
            optimizer.zero_grad()
            loss = model(data).pow(2).mean()
            loss.backward()
            optimizer.step()
            print(f"step {step} done", flush=True)
            time.sleep(0.2)
    finally:
        print("finally ran", flush=True)
