"""Console factories: made on demand so test runners' swapped streams are honoured."""

from __future__ import annotations

import os
import sys

from rich.console import Console


def stderr_console() -> Console:
    """gradscope's report goes to stderr; colour only on a terminal and never with NO_COLOR."""
    plain = bool(os.environ.get("NO_COLOR")) or not sys.stderr.isatty()
    return Console(
        file=sys.stderr,
        color_system=None if plain else "auto",
        no_color=plain,
        highlight=False,
        emoji=False,
        width=None if not plain else 240,
        soft_wrap=False,
    )
