"""gradscope's own failures while recording: never raised into the script, never silent.

Each is tallied by where in gradscope it happened and what it was, with the user's line being run
when it first happened; the capture keeps the tally (`diagnostics`) and the report says when there
is one, because a missing event can make the picture wrong.
"""

from __future__ import annotations

import os
import sys

from gradscope.errors import log_internal_failure

_GRADSCOPE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MESSAGE_MAX = 200


class Failures:
    def __init__(self, is_user_code):
        self._is_user_code = is_user_code
        self.by_site: dict[tuple[str, str], list] = {}  # (where, what) -> [count, message, file, line]

    def note(self, exc: BaseException) -> None:
        where = _where(exc)
        key = (where, type(exc).__name__)
        entry = self.by_site.get(key)
        if entry is not None:
            entry[0] += 1
            return
        file, line = self._user_line()
        self.by_site[key] = [1, f"{type(exc).__name__}: {exc}"[:MESSAGE_MAX], file, line]

    def _user_line(self) -> tuple[str | None, int | None]:
        frame = sys._getframe(2)
        while frame is not None:
            if self._is_user_code(frame.f_code):
                return frame.f_code.co_filename, frame.f_lineno
            frame = frame.f_back
        return None, None


def _where(exc: BaseException) -> str:
    """The innermost gradscope frame of the traceback: `record/mode.py:142 (__torch_function__)`."""
    where = "unknown"
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.startswith(_GRADSCOPE_DIR + os.sep):
            where = f"{os.path.relpath(filename, _GRADSCOPE_DIR)}:{tb.tb_lineno} ({tb.tb_frame.f_code.co_name})"
        tb = tb.tb_next
    return where


def log_diagnostics(capture) -> None:
    """Each diagnostic also goes to GRADSCOPE_DIAGNOSTICS_LOG when set (see `log_internal_failure`)."""
    for d in capture.diagnostics:
        log_internal_failure({"script": capture.script, "where": d.where, "what": d.what, "count": d.count,
                              "file": d.file, "line": d.line})
