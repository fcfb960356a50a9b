"""The order of each optimizer's `zero_grad()`, its `step()` and the backward calls between them.

`zero_grad()` between the backward calls and the step that should apply them (GS806) clears the
gradients the step was meant to use: the step then applies nothing. This is watched on every run,
gradient norms on or off: it costs one counter per backward call and one dictionary lookup per
`zero_grad()` and per `step()`. Optimizers are held weakly.
"""

from __future__ import annotations

import weakref


class StepOrder:
    def __init__(self, recorder):
        self.recorder = recorder
        self.backwards = 0  # backward calls that accumulate into .grad (autograd.grad does not)
        self.backward_line = None  # the line of the latest of them
        self.cleared = weakref.WeakKeyDictionary()  # optimizer -> (self.backwards, file, line) at its zero_grad()
        self.stepped_at = weakref.WeakKeyDictionary()  # optimizer -> self.backwards at its latest step

    def after_backward(self, line) -> None:
        self.backwards += 1
        self.backward_line = line

    def on_zero_grad(self, optimizer, file, line) -> None:
        self.cleared[optimizer] = (self.backwards, file, line)

    def applies_nothing(self, optimizer) -> bool:
        """Called as `optimizer.step()` begins: its own zero_grad() ran after the backward calls since
        its previous step, and before this step, so the step applies none of their gradients. Noted
        as an event at the zero_grad's line."""
        previous = self.stepped_at.get(optimizer, 0)
        self.stepped_at[optimizer] = self.backwards
        cleared = self.cleared.get(optimizer)
        if cleared is None or cleared[0] != self.backwards or previous >= self.backwards:
            return False
        _, step_line = self.recorder.where(4)
        self.recorder.note_event({"kind": "cleared_grads", "file": cleared[1], "line": cleared[2],
                                  "backward_line": self.backward_line, "step_line": step_line})
        return True
