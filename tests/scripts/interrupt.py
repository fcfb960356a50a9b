"""Raises KeyboardInterrupt from inside a function, as if the user pressed Ctrl-C there."""


def train():
    raise KeyboardInterrupt


print("training", flush=True)
train()
