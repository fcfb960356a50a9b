"""Writing renderings to files or stdout, with the format taken from the extension.

Outputs are the user's files: a regular file is replaced atomically (never half-written) with its mode
kept, a new one gets the umask's mode, and symlinks, devices and FIFOs are written through as the
shell's `>` would. Every output path is checked before the script runs, and no output may overwrite
an input. Binary formats are never written to a terminal.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile

from gradscope.capture import Capture
from gradscope.errors import RenderError, UsageError
from gradscope.render import registry


def render_bytes(capture: Capture, fmt: str, options: dict | None = None) -> bytes:
    return registry.render(capture, fmt, options)


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
    return f"Wrote {fmt.upper().replace('GRADS.', 'gradient norm chart as ')} to {path}"


def write_atomically(path: str, data: bytes) -> None:
    """Write `data` to `path` as the user's own file.

    A regular file (or a new one) is replaced atomically: a temporary file beside it, then a rename, so
    no half-written file is ever seen; it keeps the existing file's mode (and owner, when allowed), and a
    new file gets the mode the umask gives. A symlink is written through to its target, the kernel
    deciding whether it may be followed. A device, FIFO or socket, and a file with other hard links, is
    written in place, as the shell's `>` would.
    """
    try:
        st = os.stat(path)  # follows links
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror}") from None
    try:
        if st is not None and (not stat.S_ISREG(st.st_mode) or st.st_nlink > 1):
            with open(path, "wb") as fh:
                fh.write(data)
            return
        if os.path.islink(path):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o666))  # may the link be followed? (creates its target)
            path = os.path.realpath(path)
            st = os.stat(path)
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror}") from None
    _replace(path, data, st)


def _replace(path: str, data: bytes, st: os.stat_result | None) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".gradscope-", dir=folder)  # 0600 while it is being written
    except OSError as exc:
        raise RenderError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask())
        if st is not None and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:
                pass  # only root may give a file away; the file is then ours, as `cp` would leave it
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise RenderError(f"cannot write {path}: {exc.strerror}") from None
        raise


def _umask() -> int:
    """The process's umask, read without changing it (other threads of the script may be creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_outputs(paths: list[str], inputs: list[str]) -> None:
    """Fail before running the script when an output cannot be written or would overwrite an input
    (the script, a file named on the command line, the capture being read) or another output."""
    seen: list[str] = []
    for path in paths:
        if path == "-":
            continue
        check_writable(path)
        for other in inputs:
            if _same_file(path, other):
                raise UsageError(f"refusing to write {path}: it is an input ({other}); choose another output path")
        for other in seen:
            if _same_file(path, other) or os.path.abspath(path) == os.path.abspath(other):
                raise UsageError(f"{path} is asked for twice (as {other} too); give each output its own path")
        seen.append(path)


def files_named(args: list[str]) -> list[str]:
    """The script's arguments that name existing files (`data.txt`, `--config=run.yaml`)."""
    named = []
    for arg in args:
        for candidate in (arg, arg.partition("=")[2]):
            if candidate and os.path.isfile(candidate):
                named.append(candidate)
    return named


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):
        return False


def check_writable(path: str) -> None:
    """Fail before running the script when an output path cannot be written."""
    if path == "-":
        return
    folder = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(path)
    if not os.path.isdir(folder):
        raise UsageError(f"cannot write {path}: folder {folder} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"cannot write {path}: it is a directory")
    try:
        name_max = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    if len(os.fsencode(name)) > name_max:
        raise UsageError(f"cannot write {path[:40]}...: the file name is {len(os.fsencode(name))} bytes long, "
                         f"over the {name_max} this file system allows; choose a shorter name")
    if not os.access(folder, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise UsageError(f"cannot write {path}: permission denied")
