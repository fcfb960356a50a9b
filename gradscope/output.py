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

TEXT_FORMATS = {"json", "tree", "dot", "html", "grads"}
BINARY_FORMATS = {"svg", "png", "pdf"}
# `--format grads`: sparklines as text; a chart (matplotlib) when -o names an .svg/.png/.pdf file.
GRADS_CHARTS = {".svg": "grads.svg", ".png": "grads.png", ".pdf": "grads.pdf"}
EXTENSIONS = {".json": "json", ".txt": "tree", ".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png",
              ".pdf": "pdf", ".html": "html", ".htm": "html"}


def guess_format(path: str, explicit: str | None) -> str:
    if explicit:
        fmt = explicit.lower()
        if fmt not in TEXT_FORMATS | BINARY_FORMATS:
            raise UsageError(f"unknown format {explicit!r}; choose one of {', '.join(sorted(TEXT_FORMATS | BINARY_FORMATS))}")
        if fmt == "grads" and path != "-":
            ext = os.path.splitext(path)[1].lower()
            if ext in GRADS_CHARTS:
                return GRADS_CHARTS[ext]
            if ext not in (".txt", ""):
                raise UsageError(f"--format grads writes text (.txt) or a chart ({', '.join(GRADS_CHARTS)}), "
                                 f"not {ext}")
        return fmt
    if path == "-":
        return "tree"
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXTENSIONS:
        raise UsageError(f"cannot tell the format of {path!r} from its extension; use one of "
                         f"{', '.join(sorted(EXTENSIONS))} or --format")
    return EXTENSIONS[ext]


def render_bytes(capture: Capture, fmt: str, options: dict | None = None) -> bytes:
    options = options or {}
    if fmt == "json":
        return (capture.dumps() + "\n").encode("utf-8")
    if fmt == "tree":
        from gradscope.render.tree import render_text

        return render_text(capture, depth=options.get("depth", 12)).encode("utf-8")
    if fmt.startswith("grads"):
        from gradscope.render import grads

        if fmt == "grads":
            return grads.render_text(capture).encode("utf-8")
        return grads.render_chart(capture, fmt.split(".")[1])
    from gradscope.render import graph_formats

    return graph_formats.render(capture, fmt, options)


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
        if (fmt in BINARY_FORMATS or fmt in GRADS_CHARTS.values()) and sys.stdout.isatty():
            raise UsageError(f"refusing to write binary {fmt.upper()} to a terminal; use -o FILE")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return f"Wrote {fmt.upper()} to stdout"
    write_atomically(path, data)
    return f"Wrote {fmt.upper().replace('GRADS.', 'gradient norm chart as ')} to {path}"


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
