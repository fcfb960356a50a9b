"""The switch between a function's own body and its instrumented one (record/names.py): false while
the script runs, true while torch.compile (dynamo) traces the function.

It is a C builtin, the `copy` method of a list of gradscope's own (which returns a new, empty, so
false, list): calling it adds no Python frame, so a recursive function of the script reaches
RecursionError where python would (but for the launcher's frames), and it costs little. Dynamo is told,
through torch's public `torch.compiler.substitute_in_graph`, to trace it as `return True`: a constant,
so no guard, no graph break and no recompilation. That registration needs dynamo, whose import takes
seconds, so it is made when `torch._dynamo` is imported (torch.compile imports it), or at once when it
already is. Being a method of a private list, the switch equals no other callable dynamo could meet.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from typing import Callable

import torch

_PRIVATE: list = []
SWITCH = _PRIVATE.copy


def _traced_as() -> bool:
    """What dynamo traces in place of SWITCH."""
    return True


_registered = False


def register_with_dynamo(note_failure: Callable[[BaseException], None]) -> None:
    """Once per process (dynamo refuses a second registration of one callable)."""
    global _registered
    if _registered:
        return
    _registered = True
    try:
        torch.compiler.substitute_in_graph(SWITCH)(_traced_as)
    except Exception as exc:  # noqa: BLE001 - without it torch.compile fails on instrumented functions: said
        note_failure(exc)


class DynamoWatch(importlib.abc.MetaPathFinder):
    """Registers the switch right after `torch._dynamo` is imported (a post-import hook)."""

    def __init__(self, note_failure: Callable[[BaseException], None]):
        self.note_failure = note_failure

    def install(self) -> None:
        if "torch._dynamo" in sys.modules:
            register_with_dynamo(self.note_failure)
        elif not _registered:
            sys.meta_path.insert(0, self)

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch._dynamo":
            return None
        self.remove()
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None or spec.loader is None:
                return None
            exec_module = spec.loader.exec_module
            note_failure = self.note_failure

            def exec_then_register(module):
                exec_module(module)
                register_with_dynamo(note_failure)

            spec.loader.exec_module = exec_then_register  # this module's own loader: no other import sees it
            return spec
        except Exception as exc:  # noqa: BLE001 - the import goes on as python would make it
            self.note_failure(exc)
            return None
