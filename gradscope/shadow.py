"""The script's own modules win over the ones gradscope imported before it ran.

Under `python script.py`, the script's folder comes first on `sys.path`, so its `html.py` or
`secrets.py` is what `import html` gives it. gradscope's command line has already imported such
modules (typer, rich and torch import dozens) before the script runs, and `sys.modules` would hand the
script gradscope's copies. So, before the script runs, every module that the script's folder would
provide is taken out of `sys.modules` (gradscope keeps its own references); the script then imports
its own. While gradscope imports after the run (renderers load lazily), `own_imports()` puts its
copies back and takes the script's folder off the path, then leaves the script's world as it was.

Modules python itself imports before any script (`os`, `site`, `encodings`...) are never taken out:
the script's `os.py` loses to them under python too. This module does not import torch.
"""

from __future__ import annotations

import sys

# What was imported before gradscope's first line: python's startup, as the script would find it.
# (Taken before this module's own imports; gradscope/__init__.py imports this module first.)
STARTUP = frozenset(sys.modules)

import importlib.machinery  # noqa: E402
import os  # noqa: E402
from contextlib import contextmanager  # noqa: E402


def _provides(folder: str, name: str) -> bool:
    """Whether `import name` would find a regular module or package in `folder` (as the path finder
    looks: name.py, name/__init__.py, an extension module; a bare folder only makes a namespace
    package, which loses to any regular module)."""
    try:
        spec = importlib.machinery.PathFinder.find_spec(name, [folder])
    except (ImportError, ValueError, OSError):
        return False
    return spec is not None and spec.loader is not None


def _family(name: str) -> list[str]:
    prefix = name + "."
    return [key for key in list(sys.modules) if key == name or key.startswith(prefix)]


class ScriptModules:
    """Hides gradscope's copies of the modules a script folder provides, for the script's run."""

    def __init__(self, folder: str, path: list[str]):
        self.folder = folder
        self.path = list(path)  # gradscope's own sys.path, for its imports after the run
        self.hidden: dict[str, object] = {}  # gradscope's modules the script's folder shadows

    def hide(self) -> None:
        tops = {key.partition(".")[0] for key in list(sys.modules)}
        for top in sorted(tops - STARTUP):
            if top == "gradscope" or self._from_folder(sys.modules.get(top)) or not _provides(self.folder, top):
                continue  # (a module already loaded from the folder is the script's own: kept, as imported)
            for key in _family(top):
                self.hidden[key] = sys.modules.pop(key)

    def _from_folder(self, module) -> bool:
        file = getattr(module, "__file__", None)
        if not isinstance(file, str):
            return False
        where = os.path.dirname(os.path.realpath(file))
        folder = os.path.realpath(self.folder)
        return where == folder or (os.path.basename(file).startswith("__init__.") and os.path.dirname(where) == folder)

    def _hidden_tops(self) -> set[str]:
        return {key.partition(".")[0] for key in self.hidden}

    def _scripts_own(self) -> dict[str, object]:
        """The script's modules under names gradscope may import: those it imported in place of a
        hidden one, and the top-level modules and packages of its folder (with their submodules)."""
        tops = self._hidden_tops()
        for key, module in list(sys.modules.items()):
            if "." not in key and key not in ("__main__", "__mp_main__", "gradscope") and self._from_folder(module):
                tops.add(key)
        return {key: module for key, module in list(sys.modules.items()) if key.partition(".")[0] in tops}

    @contextmanager
    def own_imports(self):
        """gradscope imports its own modules, not the script's, inside this block; afterwards
        `sys.modules` and `sys.path` are what the script left."""
        script_path = list(sys.path)
        own = self._scripts_own()
        for key in own:
            sys.modules.pop(key, None)
        sys.modules.update(self.hidden)
        sys.path[:] = self.path
        try:
            yield
        finally:
            tops = self._hidden_tops() | {key.partition(".")[0] for key in own}
            for key in list(sys.modules):
                if key.partition(".")[0] in tops:
                    sys.modules.pop(key, None)
            sys.modules.update(own)
            sys.path[:] = script_path

    def give_back(self) -> None:
        """For a caller that goes on in the same process: gradscope's modules are in `sys.modules`
        again in place of the script's copies under the same names."""
        for key in list(sys.modules):
            if key.partition(".")[0] in self._hidden_tops():
                sys.modules.pop(key, None)
        sys.modules.update(self.hidden)
        self.hidden = {}
