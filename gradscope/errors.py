"""gradscope's own errors: one base class, so the CLI can print one line and exit non-zero."""


class GradscopeError(Exception):
    """A problem gradscope reports as one line (never a traceback)."""

    exit_code = 2


class UsageError(GradscopeError):
    """The command line asked for something that cannot be done."""


class ScriptNotFound(GradscopeError):
    """The script or module to run does not exist."""


class CaptureError(GradscopeError):
    """A capture file cannot be read: missing, not JSON, wrong schema or a newer format."""


class RenderError(GradscopeError):
    """An output could not be produced (e.g. Graphviz's `dot` is missing)."""
