"""Running Graphviz's `dot`: a subprocess with a timeout, and one line saying how to install it.

Only the formats that need `dot` fail when it is missing (DOT and JSON never need it).
"""

from __future__ import annotations

import re
import shutil
import subprocess

from gradscope.errors import RenderError

DOT_TIMEOUT_S = 120
INSTALL_HINT = ("Graphviz's `dot` program is needed for {fmt} output but was not found on PATH; install Graphviz "
                "(Debian/Ubuntu: apt-get install graphviz, macOS: brew install graphviz) or write .dot/.json instead")


def require_dot(fmt: str) -> str:
    """The path of `dot`, or a RenderError saying how to install it (checked before a trace runs)."""
    exe = shutil.which("dot")
    if exe is None:
        raise RenderError(INSTALL_HINT.format(fmt=fmt.upper()))
    return exe


# `{ rank=same; a; b; }`: placement hints only; the graph is the same without them
_SAME_RANK = re.compile(r"^[ \t]*\{ rank=same;[^{}\n]*\}[ \t]*\n", re.MULTILINE)


def run_dot(text: str, fmt: str) -> bytes:
    """`dot -T<fmt>` of `text`. Graphviz 2.43 (Debian's) sometimes stops with "trouble in init_rank" on
    rank=same hints beside labelled edges: the graph is then laid out once more without the hints."""
    try:
        return _run_dot(text, fmt)
    except RenderError as exc:
        if "trouble in init_rank" not in str(exc) or not _SAME_RANK.search(text):
            raise
        return _run_dot(_SAME_RANK.sub("", text), fmt)


def _run_dot(text: str, fmt: str) -> bytes:
    exe = require_dot(fmt)
    try:
        proc = subprocess.run([exe, f"-T{fmt}"], input=text.encode("utf-8"), capture_output=True,
                              timeout=DOT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"Graphviz took more than {DOT_TIMEOUT_S} s to lay out the graph; try --max-nodes, "
                          "--module-depth, or write .dot") from None
    except OSError as exc:
        raise RenderError(f"could not run Graphviz's dot: {exc.strerror}") from None
    if proc.returncode != 0 or not proc.stdout:
        problem = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError(f"Graphviz's dot failed: {problem[0] if problem else f'exit {proc.returncode}'}")
    return proc.stdout
