"""What the recorder's caps left out. Caps keep memory bounded over long runs, and each one says what
it dropped: the tally becomes the capture's `dropped` (what, how many, the cap, where)."""

from __future__ import annotations


class Drops:
    """(what, kind, file, line) -> [count, cap, file, line]; with `by_line=False` one entry per (what,
    kind), placed at the first line that had something dropped."""

    def __init__(self):
        self.by_site: dict[tuple, list] = {}

    def note(self, what: str, cap: int, *, count: int = 1, kind: str | None = None, file=None, line=None,
             by_line: bool = True) -> None:
        key = (what, kind, file, line) if by_line else (what, kind)
        entry = self.by_site.get(key)
        if entry is None:
            self.by_site[key] = [count, cap, file, line]
        else:
            entry[0] += count
