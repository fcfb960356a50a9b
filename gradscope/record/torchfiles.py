"""torch's own source files, known by where torch was imported from, never by a file name's suffix.

A frame runs one of torch's files when its file, as a real path, is that file inside torch's package
directory (`os.path.dirname(torch.__file__)`): a script of the user's called `grad_mode.py`, or kept
in a folder called `torch/nn/utils/`, is not torch's.
"""

from __future__ import annotations

import os

import torch

TORCH_DIR = os.path.realpath(os.path.dirname(torch.__file__))


class TorchFiles:
    """Some of torch's files, each named by its path relative to torch's package directory
    (`"autograd/grad_mode.py"`). `filename in files` answers for a code object's `co_filename`;
    cached per file name, because the grad-mode tracker asks for several frames of every switch."""

    __slots__ = ("paths", "_known")

    def __init__(self, *relative: str):
        self.paths = frozenset(os.path.join(TORCH_DIR, *rel.split("/")) for rel in relative)
        self._known: dict[str, bool] = {}

    def __contains__(self, filename) -> bool:
        known = self._known.get(filename)
        if known is None:
            known = self._known[filename] = (isinstance(filename, str) and not filename.startswith("<")
                                              and os.path.realpath(filename) in self.paths)
        return known


# torch's `handle_torch_function`: the detour a call takes only because a TorchFunctionMode is active.
OVERRIDES_FILE = TorchFiles("overrides.py")
