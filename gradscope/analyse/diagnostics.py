"""What the report says when gradscope itself failed to record something (the capture's `diagnostics`)."""

from __future__ import annotations

from gradscope.capture import Capture


def incomplete_note(capture: Capture) -> str | None:
    """One line when any event could not be recorded, else None."""
    if not capture.diagnostics:
        return None
    total = sum(d.count for d in capture.diagnostics)
    first = capture.diagnostics[0]
    kinds = len(capture.diagnostics)
    return (f"gradscope: {total} event{'s' if total != 1 else ''} could not be recorded "
            f"({kinds} internal error{'s' if kinds != 1 else ''}, first {first.what} in {first.where}); "
            "the picture may be incomplete. The capture's `diagnostics` (--json) say where.")


# What each cap left out, in words (`events` past a line's cap are the design, counted in the
# report's header, and not repeated here).
_DROPPED_WORDS = {
    "cut_sites": "cut site{s} past the first {cap}",
    "cut_origins": "cut chain{s} deeper than {cap} ops (the oldest ops not kept)",
    "reaches": "graph walk{s} stopped after {cap} nodes",
    "frame_locals": "tensor local{s} of the raising frame past {cap}",
    "warnings": "distinct warning{s} past {cap} (shown, not kept)",
    "mutations": "in-place change{s} forgotten when the in-place log passed {cap} storages",
    "cut_ancestry": "tensor{s} whose making was not followed past {cap}",
    "grad_mode_switches": "nested grad-mode switch{es} past {cap} not remembered",
    "nan_hooks": "backward node{s} past {cap} not watched by --nan",
}


def dropped_note(capture: Capture) -> str | None:
    """One line saying what the caps on recording left out (None when nothing but repeated events)."""
    totals: dict[str, list] = {}
    for d in capture.dropped:
        if d.what in _DROPPED_WORDS:
            entry = totals.setdefault(d.what, [0, d.cap, d.file, d.line])
            entry[0] += d.count
    if not totals:
        return None
    parts = []
    for what, (count, cap, file, line) in totals.items():
        where = f", first at {file}:{line}" if file and line is not None else ""
        plural = count != 1
        parts.append(f"{count} " + _DROPPED_WORDS[what].format(s="s" if plural else "", es="es" if plural else "",
                                                               cap=cap) + where)
    return ("gradscope: recording caps left out " + "; ".join(parts)
            + ". Everything else was recorded; the capture's `dropped` (--json) lists each.")
