"""The grad-mode tracker: who turned grad mode off, the user's own code or a library's.

The mode reports every `torch._C._set_grad_enabled` call; the tracker keeps a stack of switches so
that each exit restores what its entry changed, and remembers where the current "off" came from.
"""

from __future__ import annotations

import sys

import torch

from gradscope.record.paths import frame_line
from gradscope.record.torchfiles import torch_files

# Frames of torch's grad-mode machinery: a switch is the user's when the frame above these is.
_GRAD_MODE_FILES = torch_files("autograd/grad_mode.py", "utils/_contextlib.py")
_MAX_DEPTH = 1000  # nested switches remembered (a guard against unbalanced enter/exit)

# Libraries whose grad-off regions only update their own state or parameters in place.
_BOOKKEEPING_FILES = torch_files(
    "optim/optimizer.py", "optim/adam.py", "optim/adamw.py", "optim/sgd.py", "optim/rmsprop.py", "optim/adagrad.py",
    "optim/lr_scheduler.py", "nn/init.py", "nn/utils/clip_grad.py",
)


class GradModeTracker:
    def __init__(self, is_user_code, on_library_off, drops):
        self._is_user_code = is_user_code
        self._drops = drops  # the recorder's: switches past the guard are counted
        self._on_library_off = on_library_off  # called with the frame of a library's switch to off
        self.off_by = None  # (is_user, file, line, how, decorator line or None) of the switch that turned grad off
        self._stack: list[tuple[bool, object]] = []

    def on_switch(self, enable: bool, depth: int = 2) -> None:
        """Track one switch; `depth` is the frame of the caller of `set_grad_enabled` itself."""
        f = sys._getframe(depth)
        how = "no_grad"
        decorated = None  # the function a @torch.no_grad() decorator is running
        while f is not None and f.f_code.co_filename in _GRAD_MODE_FILES:
            if f.f_code.co_name == "__init__" and f.f_back is not None \
                    and f.f_back.f_code.co_filename not in _GRAD_MODE_FILES:
                how = "set_grad_enabled"  # called by the script itself, not by no_grad's __enter__
            if f.f_code.co_name == "decorate_context":
                decorated = getattr(f.f_locals.get("func"), "__code__", None)
            f = f.f_back
        is_user = f is not None and self._is_user_code(f.f_code)
        if not enable and not is_user and f is not None:
            self._on_library_off(f)
        current = torch.is_grad_enabled()
        stack = self._stack
        if stack and enable == stack[-1][0]:
            _, self.off_by = stack.pop()  # the exit that restores what the last switch changed
            return
        if len(stack) < _MAX_DEPTH:
            stack.append((current, self.off_by))
        else:
            self._drops.note("grad_mode_switches", _MAX_DEPTH, file=f.f_code.co_filename if f else None,
                             line=frame_line(f) if f else None, by_line=False)
        if not enable:
            if current or self.off_by is None:  # also a switch inside C++'s own grad-off (Function.forward)
                # a @torch.no_grad() function of the user's: its decorator's line as well as the call's
                by_def = (decorated.co_firstlineno if is_user and decorated is not None
                          and self._is_user_code(decorated) else None)
                self.off_by = (is_user, f.f_code.co_filename if f else None, frame_line(f) if f else None, how, by_def)
        else:
            self.off_by = None

    def library_off(self) -> bool:
        """Grad mode is off for a library's own bookkeeping: an optimizer's step, weight init, or
        C++ (a custom Function's forward). Not the user's no_grad / inference_mode, and not a library
        running the user's layers with grad off (a reentrant checkpoint), whose ops stay recorded."""
        off = self.off_by
        if off is None:
            return not torch.is_inference_mode_enabled()
        return not off[0] and off[1] is not None and off[1] in _BOOKKEEPING_FILES
