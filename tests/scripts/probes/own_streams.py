"""Probe: a script that sends its stderr to a log file (argv[1]) or closes it (`close`), and wraps its
stdout: its log holds only what it wrote itself."""

import sys

import torch


class Tee:
    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self.stream.write(text.upper())

    def flush(self):
        self.stream.flush()


w = torch.ones(2, requires_grad=True)
(w * 3).sum().backward()
sys.stdout = Tee(sys.stdout)
if sys.argv[1] == "close":
    sys.stderr.close()
else:
    sys.stderr = open(sys.argv[1], "w")
    print("from the script", file=sys.stderr)
print("grad", w.grad.tolist())
