"""The Python API: trace a script, or a block of code in a notebook.

    with gradscope.trace() as session:
        loss = model(x).sum(); loss.backward()
    print(session.capture.tree())

Both paths use the same stages as the CLI: instrument -> run -> finish -> build a Capture.
"""

from __future__ import annotations

import gc
import os
import sys
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from types import FunctionType
from typing import Any, Callable

from gradscope.capture import Capture


@dataclass
class TraceResult:
    capture: Capture | None  # None in a forked child of the script (it does not report)
    exit_code: int
    interrupted: bool = False
    # gradscope's imports and output after the run go through this, so the script's own modules never stand
    # in and its report goes where the process's stdout / stderr went before the script (see PyRunner.own_world)
    own_imports: Callable[[], Any] = field(default=nullcontext)

    @property
    def forked_child(self) -> bool:
        return self.capture is None


def trace_target(target, args: list[str], *, step: int | None = None, roots=(), stop_after: int | None = None,
                 health=None) -> TraceResult:
    """Run a resolved script/module target under instrumentation, in this process, and build its
    capture. `health`: {"grad_norms", "nan", "stop_after_nan"} (see `Recorder`), defaults when None."""
    return PreparedTrace(target, args, step=step, roots=roots, stop_after=stop_after, health=health).run()


class PreparedTrace:
    """A script ready to run under instrumentation, in three steps: `begin()` prepares the
    interpreter and gives the script's code; the caller executes it in `namespace` inside
    `instrumentation` (in its own frame: the command line does it in its outermost one, so the
    script sees python's stack but for that frame); `finish()` builds the capture.

    `as_main`: this process is the script's (the CLI): what the script left (argv, cwd, `__main__`,
    its modules) stays for its atexit handlers, and a child it forked that ran to the end gets no
    capture."""

    def __init__(self, target, args: list[str], *, step: int | None = None, roots=(), stop_after: int | None = None,
                 health=None, as_main: bool = False):
        _check_stop_after(step, stop_after)
        from gradscope import runner
        from gradscope.record.build import build_capture
        from gradscope.record.names import compile_user_source
        from gradscope.record.session import Instrumentation

        self._build_capture, self._compile_user_source = build_capture, compile_user_source
        self.target, self.args, self.step, self.as_main = target, list(args), step, as_main
        user_roots = [target.path0] if target.module_name else [os.path.dirname(target.path), target.path0]
        self.instrumentation = Instrumentation(user_roots, step=step, root_names=roots, stop_after=stop_after,
                                               health=health)
        self.runner = runner.PyRunner(target, args, as_main=as_main)
        self._pid = os.getpid()

    @property
    def namespace(self) -> dict:
        return self.runner.main_module.__dict__

    def begin(self):
        """Prepare the interpreter for the script; its code object, or None when it does not compile."""
        self.runner.prepare()
        note_failure = self.instrumentation.recorder.note_failure
        return self.runner.compile(lambda source, filename: self._compile_user_source(source, filename, note_failure))

    def run(self) -> TraceResult:
        """All three steps here (`cli.main` does the same inline, to stay the script's only frame below)."""
        code = self.begin()
        failure = None
        if code is not None:
            try:
                with self.instrumentation:
                    FunctionType(code, self.namespace)()  # module code: runs as exec(code, namespace) would
            except BaseException as exc:  # noqa: BLE001 - the script's own: judged by the runner
                failure = exc
        return self.finish(failure)

    def finish(self, failure: BaseException | None) -> TraceResult:
        """`failure`: what the script's code raised (None when it returned)."""
        try:
            result = self.runner.ended(failure)
        finally:
            self.runner.restore()
        if os.getpid() != self._pid:  # a child the script forked ran to the end: only its parent reports
            return TraceResult(None, result.exit_code, result.interrupted)
        recorder, target = self.instrumentation.recorder, self.target
        own_imports = self.runner.own_world if self.as_main else nullcontext
        with self.instrumentation.suspended(), own_imports():
            recorder.finish(result.namespace, result.traceback)
            exit_info = {"code": result.exit_code, "exception": result.exception}
            capture = self._build_capture(recorder, script=target.display, argv=[target.argv0, *self.args],
                                          exit_info=exit_info)
            backward_calls = recorder.backward_count
            recorder.release()
        _check_step(self.step, backward_calls)
        return TraceResult(capture, result.exit_code, result.interrupted, own_imports)


def _check_stop_after(step, stop_after) -> None:
    if step is not None and stop_after is not None and step > stop_after:
        from gradscope.errors import UsageError

        raise UsageError(f"--step {step} asks for a backward call after --stop-after {stop_after} ends the "
                         "script; choose --step at most --stop-after")


@contextmanager
def frozen_heap():
    """While the report is rendered, keep the cyclic collector from rescanning the script's heap (on
    a 100,000-node graph those rescans cost more than rendering itself); unfreeze afterwards, so
    that the script's cycles are still collected at exit and their `__del__` runs, as under python."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _check_step(step, count) -> None:
    if step is not None and step > count:
        from gradscope.errors import UsageError

        if count == 0:
            raise UsageError(f"--step {step}: the script never called backward; drop --step")
        raise UsageError(f"--step {step}: the script called backward only {count} time(s); "
                         f"choose --step between 1 and {count}")


class TraceSession:
    """Context manager recording a block of the caller's code (the caller's file counts as user code)."""

    def __init__(self, *, step: int | None = None, roots=()):
        self.step = step
        self.roots = tuple(roots)
        self.capture: Capture | None = None
        self._instrumentation = None
        self._namespace = None

    def __enter__(self) -> TraceSession:
        from gradscope.record.session import Instrumentation

        caller = sys._getframe(1)
        filename = caller.f_code.co_filename
        self._namespace = caller.f_globals
        root = os.path.dirname(os.path.abspath(filename)) if os.path.exists(filename) else os.getcwd()
        self._instrumentation = Instrumentation([root, filename], step=self.step, root_names=self.roots)
        self._instrumentation.user_files.extra_files = {filename}
        self._instrumentation.__enter__()
        self._instrumentation.name_existing({**caller.f_globals, **caller.f_locals})
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        from gradscope.record.build import build_capture

        instrumentation = self._instrumentation
        instrumentation.__exit__(exc_type, exc, tb)
        recorder = instrumentation.recorder
        # The block's code was compiled before tracing began, so its names come from the
        # caller's namespace as it is now (globals in a notebook cell, locals in a function).
        namespace = dict(self._namespace)
        namespace.update(sys._getframe(1).f_locals)
        with instrumentation.suspended():
            recorder.finish(namespace)
            exception = None
            if exc is not None:
                exception = {"type": exc_type.__name__, "message": str(exc), "line": None, "file": None}
            self.capture = build_capture(recorder, script="<block>", argv=list(sys.argv),
                                         exit_info={"code": 1 if exc else 0, "exception": exception})
            recorder.release()

    # -- conveniences for notebooks ----------------------------------------------------------------
    def tree(self) -> str:
        from gradscope.render.tree import render_text

        return render_text(self._require())

    def save(self, path: str) -> None:
        from gradscope.output import write_output

        write_output(self._require(), path, "json")

    def labels(self) -> dict[str, str]:
        """Tensor name (or parameter name) -> kind."""
        out = {}
        for t in self._require().tensors:
            key = t.param_name or t.name
            if key:
                out.setdefault(key, t.kind)
        return out

    # -- assertions for the user's own tests: the same text as `gradscope check` -------------------
    def assert_trains(self, *patterns: str) -> None:
        """Every parameter matching each glob requires grad, got a gradient and sits in an optimizer
        (when the block built one); a pattern matching nothing fails too."""
        __tracebackhide__ = True  # pytest shows the user's line, not ours
        self._assert("trains", trains=patterns)

    def assert_frozen(self, *patterns: str) -> None:
        """Every parameter matching each glob does not require grad, or got no gradient and sits in no optimizer."""
        __tracebackhide__ = True  # pytest shows the user's line, not ours
        self._assert("frozen", frozen=patterns)

    def assert_no_findings(self, severity: str = "warning") -> None:
        """No finding of this severity or above (error, warning or info)."""
        __tracebackhide__ = True  # pytest shows the user's line, not ours
        if severity not in ("error", "warning", "info"):
            raise ValueError(f"severity must be error, warning or info, not {severity!r}")
        self._assert("finding", fail_on=severity)

    def _assert(self, kind: str, *, trains=(), frozen=(), fail_on="never") -> None:
        __tracebackhide__ = True  # pytest shows the user's line, not ours
        from gradscope.analyse.check import check_capture
        from gradscope.render.check import violations_text

        result = check_capture(self._require(), trains=trains, frozen=frozen, fail_on=fail_on)
        failed = [v for v in result.violations if v.kind == kind]
        if failed:
            raise AssertionError(violations_text(failed))

    def _require(self) -> Capture:
        if self.capture is None:
            raise RuntimeError("the traced block has not finished yet")
        return self.capture

    def _repr_svg_(self):
        from gradscope.errors import RenderError
        from gradscope.render.dot import render_svg

        try:
            return render_svg(self._require()).decode("utf-8")
        except RenderError:  # no Graphviz: Jupyter falls back to the text repr
            return None
