"""gradscope's own errors: one base class, so the CLI can print one line and exit non-zero."""


class GradscopeError(Exception):
    """A problem gradscope reports as one line (never a traceback): control characters in the message
    (a newline in a capture's field name, an escape sequence in a path) are written out as escapes."""

    exit_code = 2

    def __init__(self, message: str = ""):
        from gradscope.escape import printable  # (escape imports capture, which imports this module)

        super().__init__(printable(str(message)))


class UsageError(GradscopeError):
    """The command line asked for something that cannot be done."""


class ScriptNotFound(GradscopeError):
    """The script or module to run does not exist."""


class CaptureError(GradscopeError):
    """A capture file cannot be read: missing, not JSON, wrong schema or a newer format."""


class RenderError(GradscopeError):
    """An output could not be produced (e.g. Graphviz's `dot` is missing)."""


def log_internal_failure(entry: dict) -> None:
    """With GRADSCOPE_DIAGNOSTICS_LOG=FILE, append one of gradscope's own failures to FILE as a JSON line:
    the test suite sets it and fails when any run, in-process or not, had one."""
    import json
    import os

    path = os.environ.get("GRADSCOPE_DIAGNOSTICS_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry) + "\n")
