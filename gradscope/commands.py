"""What each command does, stage by stage: resolve -> trace (or load) -> analyse -> render -> write.

Kept apart from `cli.py` so the CLI only parses, and so tests can call a command directly.
"""

from __future__ import annotations

import json
import os
import sys

from gradscope.capture import Capture
from gradscope.errors import CaptureError, RenderError
from gradscope.output import check_writable, guess_format, write_atomically, write_output


def _plan_outputs(outputs: list[str], fmt: str | None) -> list[tuple[str, str]]:
    from gradscope.render.graph_formats import NEEDS_DOT, require_dot

    planned = []
    for path in outputs:
        chosen = guess_format(path, fmt)
        check_writable(path)
        if chosen in NEEDS_DOT:
            require_dot(chosen)  # fail before running the script, not after
        elif chosen.startswith("grads."):
            from gradscope.render.grads import require_matplotlib

            require_matplotlib(chosen.split(".")[1])
        planned.append((path, chosen))
    return planned


def _resolve(script: str | None, module: str | None):
    from gradscope import runner

    return runner.resolve_module(module) if module else runner.resolve_script(script)


def _trace(script, module, args, step, roots, health=None):
    from gradscope.api import trace_target

    return trace_target(_resolve(script, module), args, step=step, roots=roots, health=health)


def _write_all(capture: Capture, planned, options, console) -> None:
    """Write every output that can be written (a missing `dot` must not cost the JSON or the text
    outputs), then report the first failure."""
    failed = None
    for path, fmt in planned:
        try:
            message = write_output(capture, path, fmt, options)
        except RenderError as exc:
            failed = failed or exc
            continue
        if console is not None and path != "-":
            console.print(message, highlight=False, markup=False)
    if failed is not None:
        raise failed


def distributed_rank() -> tuple[int, int] | None:
    """(rank, world size) when a launcher such as torchrun set RANK and WORLD_SIZE, else None."""
    try:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    except (KeyError, ValueError):
        return None


def per_rank_path(path: str, rank: int) -> str:
    """`cap.json` -> `cap.rank0.json`: each process of a distributed run writes its own files."""
    if path == "-":
        return path
    stem, ext = os.path.splitext(path)
    return f"{stem}.rank{rank}{ext}"


def trace(*, script, module, args, json_path, outputs, fmt, quiet, roots, step, findings, render_options,
          report_rank: int = 0, health: dict | None = None) -> int:
    from gradscope.console import stderr_console

    ranks = distributed_rank()
    if ranks is not None:  # every rank traces and writes; one prints (the others would interleave)
        outputs = [per_rank_path(path, ranks[0]) for path in outputs]
        json_path = per_rank_path(json_path, ranks[0]) if json_path else json_path
        quiet = quiet or ranks[0] != report_rank
    planned = _plan_outputs(outputs, fmt)
    if json_path:
        check_writable(json_path)
        planned.insert(0, (json_path, "json"))
    result = _trace(script, module, args, step, roots, health)
    console = None if quiet else stderr_console()
    if console is not None:
        from gradscope.render.tree import print_report

        sys.stdout.flush()
        if ranks is not None:
            console.print(f"gradscope: the report below is rank {ranks[0]}'s (of {ranks[1]}); every rank wrote "
                          "its own files, named *.rank<N>.*", highlight=False, markup=False)
        print_report(result.capture, console, depth=render_options.get("depth"))
        if findings:
            _print_findings(result.capture, console)
    _write_all(result.capture, planned, render_options, console)
    return result.exit_code


def _print_findings(capture: Capture, console) -> None:
    from gradscope.analyse.findings import find_all
    from gradscope.render.findings import print_findings

    found = find_all(capture)
    if found:
        print_findings(found, console)


def explain(*, target, module, args, tensors, json_path, step, health: dict | None = None) -> int:
    from gradscope.analyse.findings import explain_tensor, find_all
    from gradscope.console import stderr_console
    from gradscope.render.findings import findings_json, print_explanation, print_findings

    if json_path:
        check_writable(json_path)
    if module is None and target is not None and target.endswith(".json") and os.path.isfile(target):
        capture, code = load_capture(target), 0
    else:
        result = _trace(target, module, args, step, (), health)
        capture, code = result.capture, result.exit_code
    console = stderr_console()
    found = find_all(capture)
    print_findings(found, console, always=True)
    for name in tensors:
        print_explanation(explain_tensor(capture, name), console)
    if json_path:
        text = json.dumps(findings_json(found), indent=1, ensure_ascii=False) + "\n"
        write_atomically(json_path, text.encode("utf-8"))
    return code


def load_capture(path: str) -> Capture:
    if not os.path.exists(path):
        raise CaptureError(f"no such capture: {path}")
    if os.path.isdir(path):
        raise CaptureError(f"{path} is a directory, not a capture")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        raise CaptureError(f"{path} is not a gradscope capture (not UTF-8 text)") from None
    except OSError as exc:
        raise CaptureError(f"cannot read {path}: {exc.strerror}") from None
    if not text.strip():
        raise CaptureError(f"{path} is empty, not a capture")
    try:
        return Capture.loads(text)
    except CaptureError as exc:
        hint = "" if "newer" in str(exc) else "; write a capture with `gradscope trace --json FILE SCRIPT`"
        raise CaptureError(f"{path}: {exc}{hint}") from None


def render(capture_path: str, outputs: list[str], fmt: str | None, options: dict) -> int:
    from gradscope.console import stderr_console

    capture = load_capture(capture_path)
    if not outputs:
        outputs = ["-"]
        if fmt is None:
            fmt = "tree"
    planned = _plan_outputs(outputs, fmt)
    if any(path == "-" and f == "tree" for path, f in planned) and len(planned) == 1:
        from gradscope.render.tree import render_text

        sys.stdout.write(render_text(capture, depth=options.get("depth")))
        return 0
    _write_all(capture, planned, options, stderr_console())
    return 0
