"""torch's own source files, known by where torch was imported from, never by a file name's suffix.

A frame runs one of torch's files when its file is that file inside torch's package directory
(`os.path.dirname(torch.__file__)`): a script of the user's called `grad_mode.py`, or kept in a folder
called `torch/nn/utils/`, is not torch's.
"""

from __future__ import annotations

import os

import torch

TORCH_DIR = os.path.dirname(torch.__file__)


def torch_files(*relative: str) -> frozenset[str]:
    """Some of torch's files, each named by its path relative to torch's package directory
    (`"autograd/grad_mode.py"`), as a code object's `co_filename` spells them: the path torch was
    imported by, and its real path. A set, so that `filename in files` stays a C lookup: the grad-mode
    tracker asks it for several frames of every switch, and for every op run with grad mode off."""
    paths = set()
    for rel in relative:
        path = os.path.join(TORCH_DIR, *rel.split("/"))
        paths.update((path, os.path.realpath(path)))
    return frozenset(paths)


# torch's `handle_torch_function`: the detour a call takes only because a TorchFunctionMode is active.
OVERRIDES_FILE = torch_files("overrides.py")
