"""Writing renderings to files (atomically) or stdout, with the format taken from the extension.

A half-written file is never left behind: the output is written to a temporary file in the same
folder and renamed into place. Binary formats are never written to a terminal.
"""

from __future__ import annotations

import os
import sys
import tempfile

from gradscope.capture import Capture
from gradscope.errors import RenderError, UsageError
from gradscope.render import registry


def render_bytes(capture: Capture, fmt: str, options: dict | None = None) -> bytes:
    return registry.render(capture, fmt, options)


def check_writable(path: str) -> None:
    """Fail before running the script when an output path cannot be written."""
    if path == "-":
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"cannot write {path}: it is a directory")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {path}: permission denied")


def write_output(capture: Capture, path: str, fmt: str, options: dict | None = None) -> str:
    """Render and write; returns a one-line description of what was written."""
    data = render_bytes(capture, fmt, options)
    if path == "-":
        if registry.get_renderer(fmt).binary and sys.stdout.isatty():
            raise UsageError(f"refusing to write binary {fmt.upper()} to a terminal; use -o FILE")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return f"Wrote {fmt.upper()} to stdout"
    write_atomically(path, data)
    return f"Wrote {fmt.upper()} to {path}"


def write_atomically(path: str, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: no half-written file, ever."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".gradscope-", dir=folder)
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise RenderError(f"cannot write {path}: {exc.strerror}") from None
        raise
