"""Run the user's script (or module) exactly as `python script.py args` / `python -m mod` would.

Follows coverage.py's PyRunner: `prepare()` fixes `sys.path[0]`, makes a fresh `__main__` (aliased
as `__mp_main__` so multiprocessing children can unpickle) and sets `sys.argv`; `compile()` compiles
under the real path; the caller executes the code in its own frame (the command line does it in its
outermost one, so that the script's stack is python's but for that frame); `ended()` turns how it
ended into python's exit code; `restore()` puts everything back for in-process callers. The user's
exceptions stay the user's: their traceback is printed without gradscope's frames.

This module does not import torch.
"""

from __future__ import annotations

import atexit
import builtins
import importlib.machinery
import importlib.util
import io
import os
import signal
import sys
import traceback
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

from gradscope.errors import ScriptNotFound, UsageError
from gradscope.shadow import ScriptModules

_GRADSCOPE_DIR = os.path.dirname(os.path.abspath(__file__))
_MODULE_FIX = "check the name, and run gradscope from the folder python -m would be run from"


@dataclass
class Target:
    """What to run: a script path, or a module name run like `python -m`."""

    path: str  # the file executed
    argv0: str  # sys.argv[0] as python would set it
    path0: str  # sys.path[0] as python would set it
    module_name: str | None = None
    spec: Any = None

    @property
    def display(self) -> str:
        return self.module_name or self.argv0


@dataclass
class RunResult:
    exit_code: int
    exception: dict | None = None  # {"type", "message", "line", "file"}
    traceback: types.TracebackType | None = None  # of the exception that ended the script
    namespace: dict = field(default_factory=dict)
    interrupted: bool = False
    modules: ScriptModules | None = None  # `modules.own_imports()` for gradscope's imports after the run


def resolve_script(script: str) -> Target:
    if not os.path.exists(script):
        raise ScriptNotFound(f"no such script: {script}; check the path (or use -m to run a module)")
    if os.path.isdir(script):
        raise UsageError(f"{script} is a directory; give the path of a .py script (or use -m for a package)")
    path = os.path.abspath(script)
    # python puts the folder of the script's real file first on sys.path (symlinks resolved)
    return Target(path=path, argv0=script, path0=os.path.dirname(os.path.realpath(path)))


def resolve_module(name: str) -> Target:
    cwd = os.getcwd()
    saved = list(sys.path)
    sys.path.insert(0, cwd)  # as python -m searches; run() sets it again for the module itself
    try:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations is not None:
            spec = importlib.util.find_spec(name + ".__main__")
            name = name + ".__main__"
    except (ImportError, ValueError) as exc:
        raise ScriptNotFound(f"no module named {name} ({exc}); {_MODULE_FIX}") from None
    finally:
        sys.path[:] = saved
    if spec is None or not spec.origin or not os.path.isfile(spec.origin):
        raise ScriptNotFound(f"no module named {name}; {_MODULE_FIX}")
    return Target(path=spec.origin, argv0=spec.origin, path0=cwd, module_name=name, spec=spec)


def read_source(target: Target) -> bytes:
    try:
        with open(target.path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ScriptNotFound(f"cannot read {target.argv0}: {exc.strerror}") from None


class PyRunner:
    """Runs one target as python would, in steps (as coverage.py's `PyRunner`): `prepare()` sets
    paths, argv and a fresh `__main__` before anything is imported for the script; `compile()` gives
    its code, which the caller executes; `ended()` judges how it ended. `restore()` puts the
    interpreter back as it was, for callers that go on in the same process (an in-process trace).

    With `as_main` the process is the script's: `restore()` then leaves argv, cwd, `sys.path`, `__main__`
    and the script's modules as the script left them (atexit handlers and threads still running see
    them; gradscope imports through `modules.own_imports()`), and a run ended by Ctrl-C
    ends the process by SIGINT once atexit handlers ran, as python does."""

    def __init__(self, target: Target, args: list[str], *, as_main: bool = False):
        self.target = target
        self.args = list(args)
        self.as_main = as_main
        self.main_module: types.ModuleType | None = None
        self.modules = ScriptModules(target.path0, sys.path)
        self.result: RunResult | None = None
        self.interrupted = False
        self._saved = None
        self._streams = None  # sys.stdout, sys.stderr before the script ran

    def prepare(self) -> None:
        target = self.target
        main_mod = types.ModuleType("__main__")
        main_mod.__annotations__ = {}  # python's __main__ has it (empty) whether or not the script annotates
        main_mod.__builtins__ = builtins
        main_mod.__file__ = target.path
        main_mod.__cached__ = None
        main_mod.__loader__ = importlib.machinery.SourceFileLoader("__main__", target.path)
        main_mod.__spec__ = target.spec
        if target.module_name and "." in target.module_name:
            main_mod.__package__ = target.module_name.rpartition(".")[0]
        else:
            main_mod.__package__ = None if target.module_name is None else ""
        self._saved = (sys.argv, list(sys.path), sys.modules.get("__main__"), sys.modules.get("__mp_main__"),
                       os.getcwd())
        self._streams = (sys.stdout, sys.stderr)
        sys.argv = [target.argv0] + self.args
        if not getattr(sys.flags, "safe_path", False):  # PYTHONSAFEPATH / -P: python adds no folder
            sys.path[0:1] = [target.path0] if sys.path else [target.path0]
        sys.modules["__main__"] = main_mod
        sys.modules["__mp_main__"] = main_mod
        self.modules.hide()  # the script's own modules win over gradscope's copies
        self.main_module = main_mod
        if self.as_main:  # registered before the script's own handlers, so it runs after them
            atexit.register(self._exit_by_sigint_if_interrupted)

    @contextmanager
    def own_world(self):
        """gradscope's imports and output after the run: its own modules (`ScriptModules.own_imports`), and
        the stdout / stderr the process had before the script, not those the script left in sys.stdout and
        sys.stderr (a log file, a Tee; closed ones take nothing). Afterwards the script's are back."""
        script_streams = (sys.stdout, sys.stderr)
        sys.stdout, sys.stderr = (s if s is not None and not getattr(s, "closed", False) else io.StringIO()
                                  for s in self._streams or script_streams)
        try:
            with self.modules.own_imports():
                yield
        finally:
            sys.stdout, sys.stderr = script_streams

    def compile(self, compile_source: Callable[[bytes, str], Any]):
        """The prepared target's code object, or None when it does not compile (python's report of
        the SyntaxError is printed and `result` says so)."""
        target = self.target
        self.result = RunResult(exit_code=0, namespace=self.main_module.__dict__, modules=self.modules)
        try:
            return compile_source(read_source(target), target.path)
        except SyntaxError as exc:
            exc.__traceback__ = None  # python reports a script's syntax error without a traceback
            _print_user_exception(exc)
            self.result.exit_code = 1
            self.result.exception = _exception_info(exc, target.path)
            return None

    def ended(self, exc: BaseException | None) -> RunResult:
        """What python makes of the way the script's code ended (`exc`: what it raised, or None):
        the exit code, and the traceback printed as python prints it."""
        result, target = self.result, self.target
        if exc is None:
            return result
        if isinstance(exc, SystemExit):
            result.exit_code = _exit_code(exc)
        elif isinstance(exc, KeyboardInterrupt):
            _print_user_exception(exc)
            result.exit_code = 130
            result.interrupted = self.interrupted = True
            result.exception = _exception_info(exc, target.path)
        else:
            _print_user_exception(exc)
            result.exit_code = 1
            result.exception = _exception_info(exc, target.path)
            result.traceback = exc.__traceback__
        return result

    def restore(self) -> None:
        if self._saved is None:
            return
        argv, path, main, mp_main, cwd = self._saved
        self._saved = None
        if self.as_main:  # the script's world stays; gradscope imports through `modules.own_imports()`
            return
        sys.path[:] = path
        self.modules.give_back()
        sys.argv = argv
        _restore_module("__main__", main)
        _restore_module("__mp_main__", mp_main)
        try:
            os.chdir(cwd)
        except OSError:
            pass


    def _exit_by_sigint_if_interrupted(self) -> None:
        """Python ends a run stopped by KeyboardInterrupt by killing itself with SIGINT (after its
        atexit handlers), so that the shell sees a Ctrl-C."""
        if not self.interrupted:
            return
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed stream: nothing left to flush
                pass
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)


def _restore_module(name: str, module) -> None:
    if module is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = module


def _exit_code(exc: SystemExit) -> int:
    """The status python exits with: an int code is cast to a C long long (-1 when out of range), then
    the system keeps its low 8 bits; anything else is printed and exits 1."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF if -(2**63) <= code < 2**63 else 0xFF
    print(code, file=sys.stderr)
    return 1


def _own_frames(frames: list[tuple[str, str]]) -> list[bool]:
    """For (filename, function name) pairs, outermost first: True for each frame plain python
    would not have — gradscope's own, the warnings trampoline, and the detour through torch's
    `handle_torch_function` that only exists because a mode is active."""
    overrides = _torch_overrides()
    in_overrides = [overrides is not None and os.path.realpath(filename) == overrides for filename, _ in frames]
    own = []
    for i, (filename, name) in enumerate(frames):
        own.append(
            os.path.abspath(filename).startswith(_GRADSCOPE_DIR + os.sep)
            or name == "__gradscope_call__"  # see record/mode.py: _impersonate
            or in_overrides[i]
            or (i + 1 < len(frames) and in_overrides[i + 1])  # the entry frame that handed the call over
        )
    return own


def _torch_overrides() -> str | None:
    """torch's own `overrides.py` (handle_torch_function) as a real path, once torch is imported: known
    from where torch lives, so that a script of the user's called `torch/overrides.py` keeps its frames."""
    file = getattr(sys.modules.get("torch"), "__file__", None)
    return os.path.join(os.path.realpath(os.path.dirname(file)), "overrides.py") if isinstance(file, str) else None


def strip_own_frames(tb):
    """The traceback chain as plain python would show it (see `_own_frames`)."""
    chain = []
    while tb is not None:
        chain.append(tb)
        tb = tb.tb_next
    own = _own_frames([(t.tb_frame.f_code.co_filename, t.tb_frame.f_code.co_name) for t in chain])
    frames = [t for t, mine in zip(chain, own) if not mine]
    for first, second in zip(frames, frames[1:]):
        first.tb_next = second
    if frames:
        frames[-1].tb_next = None
        return frames[0]
    return None


def strip_own_stack(stack: list) -> list:
    """A `traceback.extract_stack()` list as plain python would show it: starting at the script
    (not at gradscope's command line, whose last frame executed it) and without gradscope's frames.
    Used for the stacks PyTorch prints itself, such as anomaly mode's "Traceback of forward call"."""
    own = _own_frames([(f.filename, f.name) for f in stack])
    start = 0
    if True in own:  # the launch: frames up to and through gradscope's first, if the script's module follows
        first = own.index(True)
        after = next((i for i in range(first, len(stack)) if not own[i]), len(stack))
        if after < len(stack) and stack[after].name == "<module>":
            start = after
    return [f for f, mine in zip(stack[start:], own[start:]) if not mine]


def _print_user_exception(exc: BaseException) -> None:
    """Report the script's exception as python does: without our frames, through `sys.excepthook`
    (the script may have set its own), with `sys.last_*` set for atexit handlers and debuggers."""
    seen = set()
    current = exc
    while current is not None and id(current) not in seen:  # chained exceptions too
        seen.add(id(current))
        current.__traceback__ = strip_own_frames(current.__traceback__)
        current = current.__cause__ or current.__context__
    sys.last_type, sys.last_value, sys.last_traceback = type(exc), exc, exc.__traceback__
    if hasattr(sys, "last_exc"):  # Python 3.12+
        sys.last_exc = exc
    sys.stderr.flush()
    try:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    except BaseException as hook_error:  # noqa: BLE001 - python's own fallback, word for word
        print("Error in sys.excepthook:", file=sys.stderr)
        sys.__excepthook__(type(hook_error), hook_error, hook_error.__traceback__)
        print("\nOriginal exception was:", file=sys.stderr)
        sys.__excepthook__(type(exc), exc, exc.__traceback__)
    sys.stderr.flush()


def _exception_info(exc: BaseException, script: str) -> dict:
    line = None
    file = None
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if os.path.abspath(filename).startswith(os.path.dirname(script) + os.sep) and not os.path.abspath(
            filename
        ).startswith(_GRADSCOPE_DIR + os.sep):
            line, file = tb.tb_lineno, filename
        tb = tb.tb_next
    if isinstance(exc, SyntaxError) and line is None:
        line, file = exc.lineno, exc.filename
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - python prints such an exception as "<exception str() failed>"
        message = "<exception str() failed>"
    return {"type": type(exc).__name__, "message": message, "line": line,
            "file": os.path.basename(file) if file else None}
