"""Install and remove every piece of instrumentation as one unit.

`Instrumentation` is a context manager: on exit (normal or not, or when installing fails half
way) it removes the function mode, the patches (threads, warnings, PyTorch's stack formatter), the
import hook, the binding hook and the module hooks, so that nothing of gradscope stays installed.
The patches keep the script's behaviour as under python: new threads get their own mode, warnings
are still shown (and recorded), anomaly mode's forward traces show no gradscope frame.
"""

from __future__ import annotations

import os
import threading
import traceback
import warnings

import torch
from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

from gradscope import runner
from gradscope.record import compile_switch, mode, names
from gradscope.record.mode import RecordingMode
from gradscope.record.paths import UserFiles
from gradscope.record.recorder import Recorder
from gradscope.record.torch_private import FX_TRACEBACK, DisableTorchFunction, function_mode_stack, hide_global_hooks

_NoTorchFunction = DisableTorchFunction
_BINDABLE = (torch.Tensor, torch.nn.Module, torch.optim.Optimizer)
# torch.compile traces our hooks symbolically; under that check they trace to nothing (no graph break).
_compiling = torch.compiler.is_compiling

WARNINGS_MAX = 200  # distinct warnings kept in a capture


def _nothing() -> None:
    pass


class Instrumentation:
    active: Instrumentation | None = None  # the one installed now (read by forked children)
    _fork_hook = False

    def __init__(self, user_roots: list[str], *, step: int | None = None, root_names=(), stop_after=None,
                 health=None):
        self.user_files = UserFiles(user_roots)
        self.recorder = Recorder(self.user_files, step=step, root_names=tuple(root_names), stop_after=stop_after,
                                 **(health or {}))
        self.finder = names.UserModuleFinder(self.user_files.is_user_file, self.recorder.note_failure)
        self.dynamo_watch = compile_switch.DynamoWatch(self.recorder.note_failure)
        self._bindable_types: set = set()
        self._handles: list = []
        self._show_hooks = _nothing  # undoes hide_global_hooks
        self._mode: RecordingMode | None = None
        self._orig_thread_run = None
        self._orig_showwarning = None
        self._shown = None
        self._orig_format_stack = None
        self._orig_inference_enter = None

    # -- guarded entry points for hooks ----------------------------------------------------------
    def _bind(self, value, name, line, scope):
        # Runs after an assignment in the user's code whose value's type is not known plain yet.
        # Decided on the type (never `isinstance`, which may run the value's `__class__`).
        kind = type(value)
        if kind not in self._bindable_types:
            if not issubclass(kind, _BINDABLE):
                names.PLAIN_TYPES.add(kind)  # the rewritten code will not call for this type again
                return
            self._bindable_types.add(kind)
        if _compiling():
            return
        try:
            with _NoTorchFunction():
                self.recorder.bind(value, name, line, scope)
        except Exception as exc:  # noqa: BLE001
            self.recorder.note_failure(exc)

    def name_existing(self, namespace: dict) -> None:
        """Modules and optimizers made before a traced block are named after the caller's variables
        (`model.head.weight`, not `head.weight`), as if the block had bound them."""
        for name, value in list(namespace.items()):
            if isinstance(value, (torch.nn.Module, torch.optim.Optimizer)) and not name.startswith("__"):
                self._bind(value, name, 0, None)

    def _guard(self, method):
        recorder = self.recorder

        def hook(*args):
            if _compiling():
                return
            try:
                with _NoTorchFunction():
                    method(*args)
            except Exception as exc:  # noqa: BLE001
                recorder.note_failure(exc)

        return hook

    # -- install / remove ---------------------------------------------------------------------
    def __enter__(self) -> Instrumentation:
        try:
            self._install()
        except BaseException:
            self.__exit__(None, None, None)  # a half-installed instrumentation is removed too
            raise
        return self

    def _install(self) -> None:
        rec = self.recorder
        modhooks = torch.nn.modules.module
        self._handles = [
            modhooks.register_module_forward_pre_hook(self._guard(rec.on_module_enter)),
            modhooks.register_module_forward_hook(self._guard(rec.on_module_exit), always_call=True),
            modhooks.register_module_parameter_registration_hook(self._guard(rec.on_parameter_registered)),
            modhooks.register_module_module_registration_hook(self._guard(rec.on_module_registered)),
        ]
        self._show_hooks = hide_global_hooks(self._handles[:2])  # torch.compile(module) must not warn of ours
        self._handles.append(register_optimizer_step_pre_hook(self._guard(_first(rec.before_step))))
        if rec.norms is not None:  # what each optimizer step did to the parameters
            self._handles.append(register_optimizer_step_post_hook(self._guard(_first(rec.norms.after_step))))
        names.install_hook(self._bind, compile_switch.SWITCH)
        self.dynamo_watch.install()
        self.finder.install()
        self._patch_threads()
        self._patch_warnings()
        self._patch_stacks()
        self._patch_inference_mode()
        recording = RecordingMode(rec)
        recording.__enter__()
        self._mode = recording
        if hasattr(os, "register_at_fork") and not Instrumentation._fork_hook:
            os.register_at_fork(after_in_child=_stop_recording_in_child)  # cannot be unregistered: once
            Instrumentation._fork_hook = True
        Instrumentation.active = self

    def __exit__(self, *exc) -> None:
        if Instrumentation.active is self:
            Instrumentation.active = None
        try:
            if self._mode is not None:
                self._mode.__exit__(None, None, None)
        finally:
            self._mode = None
            mode.forget_callers()
            self._unpatch_stacks()
            self._unpatch_inference_mode()
            self._unpatch_warnings()
            self._unpatch_threads()
            self.finder.remove()
            self.dynamo_watch.remove()
            names.remove_hook()
            self._bindable_types.clear()
            for handle in self._handles:
                handle.remove()
            self._handles = []
            self._show_hooks()
            self._show_hooks = _nothing

    def suspended(self):
        """Turn recording off for a block (our own work after the run: building the capture)."""
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

    # -- warnings: still shown as python shows them, and also kept in the capture --------------
    def _patch_warnings(self) -> None:
        original = warnings.showwarning
        record = self._record_warning

        def showwarning(message, category, filename, lineno, file=None, line=None):
            record(message, category, filename, lineno)
            return original(message, category, filename, lineno, file, line)

        self._orig_showwarning, self._shown = original, showwarning
        warnings.showwarning = showwarning

    def _record_warning(self, message, category, filename, lineno) -> None:
        try:
            kept = self.recorder.warnings
            entry = {"category": getattr(category, "__name__", str(category)), "message": str(message),
                     "file": filename or None, "line": lineno if isinstance(lineno, int) else None}
            if entry not in kept:
                if len(kept) < WARNINGS_MAX:
                    kept.append(entry)
                else:  # shown, not kept: counted in the capture's `dropped`
                    self.recorder.drops.note("warnings", WARNINGS_MAX, file=entry["file"], line=entry["line"],
                                             by_line=False)
        except Exception as exc:  # noqa: BLE001
            self.recorder.note_failure(exc)

    def _unpatch_warnings(self) -> None:
        if self._shown is None:
            return
        if warnings.showwarning is self._shown:  # the script may have replaced it itself: keep theirs
            warnings.showwarning = self._orig_showwarning
        self._orig_showwarning = self._shown = None

    # -- stacks PyTorch prints itself (anomaly mode's forward trace): without gradscope's frames --
    def _patch_stacks(self) -> None:
        fx_traceback = FX_TRACEBACK
        if fx_traceback is None:
            return
        original = fx_traceback.format_stack
        self._orig_format_stack = original

        def format_stack() -> list[str]:
            if getattr(fx_traceback, "should_preserve_node_meta", False):
                return original()
            return traceback.format_list(runner.strip_own_stack(traceback.extract_stack()[:-1]))

        fx_traceback.format_stack = format_stack

    def _unpatch_stacks(self) -> None:
        if self._orig_format_stack is not None:
            FX_TRACEBACK.format_stack = self._orig_format_stack
            self._orig_format_stack = None


    # -- inference_mode: which line of the script entered it (it bypasses the function mode) ------
    def _patch_inference_mode(self) -> None:
        cls = torch.autograd.grad_mode.inference_mode
        original = cls.__enter__
        self._orig_inference_enter = original
        note = self._guard(self.recorder.on_inference_enter)

        def __enter__(mode_self):
            if mode_self.mode:
                note()
            return original(mode_self)

        cls.__enter__ = __enter__

    def _unpatch_inference_mode(self) -> None:
        if self._orig_inference_enter is not None:
            torch.autograd.grad_mode.inference_mode.__enter__ = self._orig_inference_enter
            self._orig_inference_enter = None


def _first(method):
    """An optimizer step hook gets (optimizer, args, kwargs); ours need only the optimizer."""
    return lambda optimizer, args, kwargs: method(optimizer)


def _stop_recording_in_child() -> None:
    """A forked child (a DataLoader worker) does not report back: it runs without our mode, as the
    script would. Only the mode is removed; the hooks are cheap and guarded."""
    instrumentation = Instrumentation.active
    if instrumentation is None or instrumentation._mode is None:
        return
    try:
        stack = function_mode_stack()
        if stack and stack[-1] is instrumentation._mode:
            instrumentation._mode.__exit__(None, None, None)
            instrumentation._mode = None
    except Exception:  # noqa: BLE001 - a forked child never reports, so there is no one to tell
        pass
