"""Shared fixtures: run scripts under gradscope (in a subprocess, as a user would) and check that
no instrumentation is left installed after an in-process trace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def run_gradscope(*args, cwd=None, env=None, input=None, timeout=300):
    """`python -m gradscope ARGS` in a subprocess; returns CompletedProcess (text)."""
    full_env = dict(os.environ)
    full_env["NO_COLOR"] = "1"
    full_env.pop("FORCE_COLOR", None)
    for var in ("COLUMNS", "LINES"):  # the runner's terminal (or xdist's) must not set the report's width
        full_env.pop(var, None)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, "-m", "gradscope", *map(str, args)], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, input=input, timeout=timeout)


def run_python(*args, cwd=None, env=None, input=None, timeout=300):
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, input=input, timeout=timeout)


def trace_json(script, *script_args, tmp_path, extra=()):
    """Trace `script` and return (CompletedProcess, capture dict)."""
    out = Path(tmp_path) / "capture.json"
    proc = run_gradscope("trace", "--quiet", "--json", out, *extra, script, *script_args)
    data = json.loads(out.read_text()) if out.exists() else None
    return proc, data


def pytest_configure(config):
    """Every traced run appends its internal failures (diagnostics) to one file; the session fails on any.
    Set before xdist starts its workers, so they and every `gradscope` subprocess inherit it."""
    if hasattr(config, "workerinput") or "GRADSCOPE_DIAGNOSTICS_LOG" in os.environ:
        return
    fd, path = tempfile.mkstemp(prefix="gradscope-diagnostics-", suffix=".jsonl")
    os.close(fd)
    os.environ["GRADSCOPE_DIAGNOSTICS_LOG"] = config._gradscope_diagnostics = path


def pytest_sessionfinish(session, exitstatus):
    path = getattr(session.config, "_gradscope_diagnostics", None)
    if path is None:
        return
    with open(path, encoding="utf-8") as fh:
        found = fh.read().splitlines()
    os.unlink(path)
    if found:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"gradscope recorded {len(found)} unexpected internal failure(s):", red=True)
            for line in found[:20]:
                reporter.write_line(f"  {line}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def no_instrumentation_left():
    """After every test, nothing of gradscope may remain installed in this process."""
    yield
    import builtins
    import threading

    hook = getattr(builtins, "__gradscope_bind__", None)
    assert hook is None or hook.__name__ == "_noop", "binding hook left installed"
    assert not any(type(f).__name__ == "UserModuleFinder" for f in sys.meta_path), "import hook left installed"
    assert threading.Thread._bootstrap_inner.__name__ == "_bootstrap_inner", "thread patch left installed"
    if "torch" in sys.modules:
        from torch.overrides import _get_current_function_mode_stack

        assert not _get_current_function_mode_stack(), "torch function mode left installed"
        import torch

        enter = torch.autograd.grad_mode.inference_mode.__enter__
        assert enter.__qualname__ == "inference_mode.__enter__", "inference_mode patch left installed"
        from torch.nn.modules import module as modmod

        assert not modmod._global_forward_hooks and not modmod._global_forward_pre_hooks, "module hooks left"
        assert not getattr(modmod, "_global_parameter_registration_hooks", {}), "parameter hook left"
