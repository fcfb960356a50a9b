"""gradscope: see which tensors your PyTorch script's gradients reach, and why not.

`import gradscope` stays cheap: torch is imported only when tracing starts.
"""

from __future__ import annotations

from gradscope import shadow as _shadow  # noqa: F401 - first: notes what python had imported before us

from typing import TYPE_CHECKING  # noqa: E402

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from gradscope.api import TraceSession


def trace(**options):
    """Record the autograd graph of a block: `with gradscope.trace() as capture: ...`."""
    from gradscope.api import TraceSession

    return TraceSession(**options)


__all__ = ["trace", "__version__"]
