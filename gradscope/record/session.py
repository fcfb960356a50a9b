"""Install and remove every piece of instrumentation as one unit.

`Instrumentation` is a context manager: on exit (normal or not) it removes the function mode,
the module hooks, the binding hook and the import hook, in reverse order, so that nothing of
gradscope stays installed after a trace.
"""

from __future__ import annotations

import threading

import torch

from gradscope.record import names
from gradscope.record.mode import RecordingMode
from gradscope.record.paths import UserFiles
from gradscope.record.recorder import Recorder

_NoTorchFunction = torch._C.DisableTorchFunction


class Instrumentation:
    def __init__(self, user_roots: list[str], *, step: int | None = None, root_names=()):
        self.user_files = UserFiles(user_roots)
        self.recorder = Recorder(self.user_files, step=step, root_names=tuple(root_names))
        self.finder = names.UserModuleFinder(self.user_files.is_user_file)
        self._handles: list = []
        self._mode: RecordingMode | None = None
        self._orig_thread_run = None

    # -- guarded entry points for hooks ----------------------------------------------------------
    def _bind(self, value, name, line, scope):
        try:
            with _NoTorchFunction():
                self.recorder.bind(value, name, line, scope)
        except Exception:  # noqa: BLE001
            self.recorder.failures += 1

    def _guard(self, method):
        recorder = self.recorder

        def hook(*args):
            try:
                with _NoTorchFunction():
                    method(*args)
            except Exception:  # noqa: BLE001
                recorder.failures += 1

        return hook

    # -- install / remove ---------------------------------------------------------------------
    def __enter__(self) -> Instrumentation:
        rec = self.recorder
        modhooks = torch.nn.modules.module
        self._handles = [
            modhooks.register_module_forward_pre_hook(self._guard(rec.on_module_enter)),
            modhooks.register_module_forward_hook(self._guard(rec.on_module_exit), always_call=True),
            modhooks.register_module_parameter_registration_hook(self._guard(rec.on_parameter_registered)),
        ]
        names.install_hook(self._bind)
        self.finder.install()
        self._patch_threads()
        self._mode = RecordingMode(rec)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self._mode is not None:
                self._mode.__exit__(None, None, None)
        finally:
            self._mode = None
            self._unpatch_threads()
            self.finder.remove()
            names.remove_hook()
            for handle in self._handles:
                handle.remove()
            self._handles = []

    def suspended(self):
        """Turn recording off for a block (used around torch.compile'd code and our own work)."""
        return _NoTorchFunction()

    # -- threads: a TorchFunctionMode is per thread, so each new thread gets its own ------------
    def _patch_threads(self) -> None:
        instrumentation = self
        original = threading.Thread._bootstrap_inner  # runs run() in the new thread, subclasses too
        self._orig_thread_run = original

        def bootstrap_inner(thread_self):
            if instrumentation._mode is None:
                return original(thread_self)
            with RecordingMode(instrumentation.recorder):
                return original(thread_self)

        threading.Thread._bootstrap_inner = bootstrap_inner

    def _unpatch_threads(self) -> None:
        if self._orig_thread_run is not None:
            threading.Thread._bootstrap_inner = self._orig_thread_run
            self._orig_thread_run = None
