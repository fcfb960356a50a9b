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
