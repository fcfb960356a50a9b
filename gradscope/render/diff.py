"""`gradscope diff` as text: one section per kind of change, one line per change, with the lines
of A and B it concerns. Plain text, never markup."""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.text import Text

from gradscope.analyse.diff import Change, DiffResult

SECTIONS = (("parameters", "Parameters"), ("cuts", "Cuts"), ("roots", "Backward roots"), ("findings", "Findings"))
_STYLE = {"+": "green", "-": "red", "~": "yellow"}
_WIDTH = 100


def _where(change: Change) -> str:
    parts = [f"{side.upper()} line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))}"
             for side, lines in change.lines.items() if lines]
    return f"  ({'; '.join(parts)})" if parts else ""


def change_text(change: Change) -> str:
    what = "" if change.what in ("added", "removed") else f": {change.what}"
    return textwrap.fill(f"{change.sign} {change.subject}{what}{_where(change)}", _WIDTH, initial_indent="  ",
                         subsequent_indent="      ", break_long_words=False, break_on_hyphens=False)


def summary_line(result: DiffResult, a_path: str, b_path: str) -> str:
    n = len(result.changes)
    verdict = "no change in gradient flow" if not n else f"{n} change{'s' if n != 1 else ''}"
    return f"gradscope diff A={a_path} B={b_path} · {verdict}"


def render_text(result: DiffResult, a_path: str, b_path: str) -> str:
    lines = [summary_line(result, a_path, b_path)]
    for key, title in SECTIONS:
        changes = [c for c in result.changes if c.section == key]
        if changes:
            lines.append(title)
            lines += [change_text(c) for c in changes]
    return "\n".join(lines) + "\n"


def print_diff(result: DiffResult, a_path: str, b_path: str, console: Console) -> None:
    console.print(Text(summary_line(result, a_path, b_path), style="bold"))
    for key, title in SECTIONS:
        changes = [c for c in result.changes if c.section == key]
        if changes:
            console.print(Text(title, style="bold"))
            for change in changes:
                console.print(Text(change_text(change), style=_STYLE.get(change.sign, "")), soft_wrap=True)
