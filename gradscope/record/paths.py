"""Which source files are the user's own code.

Line numbers and variable names are reported for the user's files only: the script's folder
(and, for `-m`, the working directory), minus the folders installed packages are imported from and
gradscope itself. Decided from where files are (real paths), never from a folder's name: a script
kept under a folder called `site-packages` is still the user's. The decision is cached per code
object because it runs on every recorded op.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig

_GRADSCOPE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LINES_MAX = 100_000
_lines: dict = {}  # (code, f_lasti) -> line number


def frame_line(frame) -> int | None:
    """`frame.f_lineno`, cached per instruction. Python computes it by scanning the code object's line
    table from its start, so in a training loop at a script's top level (a long module code object)
    it cost more than the rest of recording the op."""
    key = (frame.f_code, frame.f_lasti)
    line = _lines.get(key)
    if line is None:
        if len(_lines) >= _LINES_MAX:
            _lines.clear()
        line = _lines[key] = frame.f_lineno
    return line


def _installed_dirs() -> tuple[str, ...]:
    """The folders installed code is imported from, as real paths: the interpreter's library paths
    (sysconfig), its site directories, and any other `sys.path` entry that holds installed
    distributions (a `*.dist-info` folder: `pip install --target`, a second venv on PYTHONPATH)."""
    dirs = set()
    for key in ("purelib", "platlib", "stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            dirs.add(path)
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:  # an old virtualenv's site module
        pass
    user_site = getattr(site, "getusersitepackages", lambda: None)()
    if isinstance(user_site, str):
        dirs.add(user_site)
    for path in sys.path:
        if path and path not in dirs and _holds_distributions(path):
            dirs.add(path)
    dirs.add(sys.prefix)
    dirs.add(sys.base_prefix)
    return tuple(sorted({os.path.realpath(d) for d in dirs}))


def _holds_distributions(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return any(e.name.endswith(".dist-info") and e.is_dir() for e in entries)
    except OSError:
        return False


class UserFiles:
    """Answers "is this file the user's?" for a set of user roots."""

    def __init__(self, roots: list[str]):
        self.roots = tuple(os.path.realpath(r) for r in roots)
        self.excluded = _installed_dirs() + (_GRADSCOPE_DIR,)
        self._by_code: dict = {}
        self._by_name: dict[str, bool] = {}
        self._display: dict[str, str] = {}  # display_path runs for every tensor and node of a capture
        self.extra_files: set[str] = set()  # e.g. a notebook cell traced with the Python API

    def is_user_file(self, filename: str) -> bool:
        known = self._by_name.get(filename)
        if known is not None:
            return known
        answer = self._decide(filename)
        self._by_name[filename] = answer
        return answer

    def _decide(self, filename: str) -> bool:
        if filename in self.extra_files:
            return True
        if not filename or filename.startswith("<"):
            return False
        path = os.path.realpath(filename)
        if path.startswith(_GRADSCOPE_DIR + os.sep):
            return False
        inside_root = any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in self.roots)
        if not inside_root:
            return False
        # An installed package below the user's folder (a venv in the project) is not user code,
        # unless the user root itself lies inside that installed folder.
        for ex in self.excluded:
            if path.startswith(ex.rstrip(os.sep) + os.sep) and not any(
                r.startswith(ex.rstrip(os.sep) + os.sep) or r == ex for r in self.roots
            ):
                return False
        return True

    def is_user_code(self, code) -> bool:
        """Cached per code object: this runs for several frames of every recorded op."""
        known = self._by_code.get(code)
        if known is None:
            known = self._by_code[code] = self.is_user_file(code.co_filename)
        return known

    def innermost_user_frame(self, f):
        """The first frame from `f` outwards that runs the user's code (or None). Runs for every
        recorded op: the cache is read inline."""
        decided = self._by_code
        while f is not None:
            code = f.f_code
            known = decided.get(code)
            if known is None:
                known = self.is_user_code(code)
            if known:
                return f
            f = f.f_back
        return None

    def display_path(self, filename: str) -> str:
        """A stable, short path for reports: relative to the first user root when inside it."""
        known = self._display.get(filename)
        if known is None:
            known = self._display[filename] = self._display_path(filename)
        return known

    def _display_path(self, filename: str) -> str:
        path = os.path.realpath(filename)
        for root in self.roots:
            if path.startswith(root.rstrip(os.sep) + os.sep):
                return os.path.relpath(path, root)
        return filename
