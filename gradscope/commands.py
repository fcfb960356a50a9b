"""What each command does, stage by stage: resolve -> trace (or load) -> analyse -> render -> write.

Kept apart from `cli.py` so the CLI only parses, and so tests can call a command directly.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import nullcontext

from gradscope.api import frozen_heap
from gradscope.capture import Capture, collector_paused
from gradscope.errors import CaptureError, RenderError
from gradscope.escape import for_terminal, printable_finding
from gradscope.output import check_outputs, files_named, write_atomically, write_output
from gradscope.render.registry import check_options, get_renderer, guess_format


def _plan_outputs(outputs: list[str], fmt: str | None) -> list[tuple[str, str]]:
    from gradscope.render.graphviz import require_dot

    planned = []
    for path in outputs:
        chosen = guess_format(path, fmt)
        if get_renderer(chosen).needs_dot:
            require_dot(chosen)  # fail before running the script, not after
        elif chosen.startswith("grads."):
            from gradscope.render.grads import require_matplotlib

            require_matplotlib(chosen.split(".")[1])
        planned.append((path, chosen, _absolute(path)))
    return planned


def _absolute(path: str) -> str:
    """Where to write `path`: fixed before the run, as the script may change directory (and keeps it)."""
    return path if path == "-" else os.path.abspath(path)


def _resolve(script: str | None, module: str | None):
    from gradscope import runner

    return runner.resolve_module(module) if module else runner.resolve_script(script)


def run_job(job) -> int:
    """Drive a command (a generator that may yield one `PreparedTrace`) to its exit code, running the
    script in `PreparedTrace.run` (`cli.main` does this inline instead)."""
    try:
        prepared = next(job)
    except StopIteration as done:
        return done.value
    try:
        job.send(prepared.run())
    except StopIteration as done:
        return done.value
    raise RuntimeError("a command yielded more than one script run")


def _trace(target, args, step, roots, stop_after=None, health=None):
    """The script's run, as a step of a command: the command yields the prepared trace to the command
    line, which runs the script in its outermost frame and sends back the `TraceResult`."""
    from gradscope.api import PreparedTrace

    return (yield PreparedTrace(target, args, step=step, roots=roots, stop_after=stop_after, health=health,
                                as_main=True))


def _write_all(capture: Capture, planned, options, console) -> None:
    """Write every output that can be written (a missing `dot` must not cost the JSON or the text
    outputs), then report the first failure."""
    failed = None
    for path, fmt, where in planned:
        try:
            message = write_output(capture, where, fmt, options)
        except RenderError as exc:
            failed = failed or exc
            continue
        if console is not None and path != "-":
            console.print(message.replace(where, path), highlight=False, markup=False, soft_wrap=True)
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
          report_rank: int = 0, stop_after: int | None = None, health: dict | None = None) -> int:
    check_options(render_options)
    ranks = distributed_rank()
    if ranks is not None:  # every rank traces and writes; one prints (the others would interleave)
        outputs = [per_rank_path(path, ranks[0]) for path in outputs]
        json_path = per_rank_path(json_path, ranks[0]) if json_path else json_path
        quiet = quiet or ranks[0] != report_rank
    target = _resolve(script, module)
    planned = _plan_outputs(outputs, fmt)
    if json_path:
        planned.insert(0, (json_path, "json", _absolute(json_path)))
    check_outputs([path for path, _, _ in planned], [target.path, *files_named(args)])
    result = yield from _trace(target, args, step, roots, stop_after, health)
    if result.forked_child:
        return result.exit_code
    with frozen_heap(), result.own_imports():
        _report(result, planned, quiet, findings, render_options, ranks)
    return result.exit_code


def _report(result, planned, quiet, findings, render_options, ranks) -> None:
    """The report on stderr (unless quiet), then every planned output."""
    from gradscope.console import flush_stdout, stderr_console

    console = None if quiet else stderr_console()
    if console is not None:
        from gradscope.render.tree import print_report

        flush_stdout()
        if ranks is not None:
            console.print(f"gradscope: the report below is rank {ranks[0]}'s (of {ranks[1]}); every rank wrote "
                          "its own files, named *.rank<N>.*", highlight=False, markup=False)
        shown = for_terminal(result.capture)
        print_report(shown, console, render_options)
        if findings:
            _print_findings(shown, console)
        _print_incomplete(shown, console)
    _write_all(result.capture, planned, render_options, console)


def _print_incomplete(capture: Capture, console) -> None:
    """What the capture could not record (internal errors) or left out (caps), one line each."""
    from gradscope.analyse.diagnostics import dropped_note, incomplete_note

    for note in (incomplete_note(capture), dropped_note(capture)):
        if note:
            console.print(note, highlight=False, markup=False, style="yellow", soft_wrap=True)


def _print_findings(capture: Capture, console) -> None:
    from gradscope.analyse.findings import find_all
    from gradscope.render.findings import print_findings

    found = find_all(capture)
    if found:
        print_findings(found, console)


def explain(*, target, module, args, tensors, json_path, step, stop_after=None, health: dict | None = None) -> int:
    outputs = [_absolute(json_path)] if json_path else []
    json_path = outputs[0] if outputs else None
    if module is None and target is not None and target.endswith(".json") and os.path.isfile(target):
        check_outputs(outputs, [target])
        capture, code, own_imports = load_capture(target), 0, nullcontext
    else:
        resolved = _resolve(target, module)
        check_outputs(outputs, [resolved.path, *files_named(args)])
        result = yield from _trace(resolved, args, step, (), stop_after, health)
        if result.forked_child:
            return result.exit_code
        capture, code, own_imports = result.capture, result.exit_code, result.own_imports
    with own_imports():
        _explain_report(capture, tensors, json_path)
    return code


def _explain_report(capture: Capture, tensors, json_path) -> None:
    from gradscope.analyse.findings import explain_tensor, find_all
    from gradscope.console import flush_stdout, stderr_console
    from gradscope.render.findings import findings_json, print_explanation, print_findings

    console = stderr_console()
    if capture.stopped_after is not None:
        from gradscope.render.tree import stop_note

        flush_stdout()
        console.print(f"gradscope: {stop_note(capture)}", highlight=False, markup=False)
    found = find_all(capture)
    print_findings([printable_finding(f) for f in found], console, always=True)
    shown = for_terminal(capture) if tensors else capture
    for name in tensors:
        print_explanation(explain_tensor(shown, name), console)
    _print_incomplete(for_terminal(capture) if capture.diagnostics or capture.dropped else capture, console)
    if json_path:
        text = json.dumps(findings_json(found), indent=1, ensure_ascii=False) + "\n"
        write_atomically(json_path, text.encode("utf-8"))


def check(*, script, module, args, trains, frozen, fail_on, json_path, stop_after, report_rank: int = 0,
          nan: bool = False) -> int:
    """Trace, then judge the rules (over every rank under torchrun); rank 0 reports and writes --json."""
    from gradscope.analyse.check import FAIL_ON

    if fail_on not in FAIL_ON:
        from gradscope.errors import UsageError

        raise UsageError(f"--fail-on {fail_on}: choose one of {', '.join(FAIL_ON)}")
    ranks = distributed_rank()
    reporting = ranks is None or ranks[0] == report_rank
    target = _resolve(script, module)
    if json_path and reporting:
        check_outputs([json_path], [target.path, *files_named(args)])
    result = yield from _trace(target, args, None, (), stop_after, {"nan": True} if nan else None)
    if result.forked_child:
        return result.exit_code
    with result.own_imports():
        return _judge(result, ranks, reporting, trains, frozen, fail_on, nan, json_path)


def _judge(result, ranks, reporting, trains, frozen, fail_on, nan, json_path) -> int:
    from gradscope.analyse.check import check as judge, run_facts
    from gradscope.console import flush_stdout, stderr_console
    from gradscope.render.check import print_check

    runs, note = [run_facts(result.capture, ranks[0] if ranks else None)], None
    if ranks is not None:
        runs, note = _gather_ranks(runs[0], *ranks)
    outcome = judge(runs, trains=trains, frozen=frozen, fail_on=fail_on, nan=nan)
    if reporting:
        console = stderr_console()
        flush_stdout()
        if note:
            console.print(f"gradscope: {note}", highlight=False, markup=False)
        print_check(outcome, console)
        if json_path:
            text = json.dumps(outcome.to_json(), indent=1, ensure_ascii=False) + "\n"
            write_atomically(json_path, text.encode("utf-8"))
    if ranks is not None and note is None:
        _wait_for_report(*ranks)
    return 0 if outcome.ok else 1


def _gather_ranks(mine, rank: int, world_size: int):
    """Every rank's facts, or this rank's alone with a note saying why the others are missing."""
    from gradscope.analyse.check import RunFacts
    from gradscope.record.ranks import RanksUnavailable, exchange

    try:
        payloads = exchange(json.dumps(mine.to_json()).encode("utf-8"), rank, world_size, "check")
    except RanksUnavailable as exc:
        return [mine], f"checked rank {rank} alone: could not gather the other ranks ({exc})"
    return [RunFacts.from_json(json.loads(p)) for p in payloads], None


def _wait_for_report(rank: int, world_size: int) -> None:
    """No rank exits before every rank is done, the reporting one included: torchrun ends the whole job
    (SIGTERM) as soon as one rank exits non-zero, which would cut the report and --json short."""
    from gradscope.record.ranks import RanksUnavailable, exchange

    try:
        exchange(b"done", rank, world_size, "check-done")
    except RanksUnavailable:
        pass  # the reporting rank died: torchrun reports that itself


def diff(a_path: str, b_path: str, json_path: str | None) -> int:
    from gradscope.console import stderr_console
    from gradscope.render.diff import render_text

    if json_path:
        check_outputs([json_path], [a_path, b_path])
    with collector_paused():  # the captures are freed (by reference counts) before the collector is back
        result = _diff_files(a_path, b_path)
    sys.stdout.write(render_text(result, a_path, b_path))
    if json_path:
        text = json.dumps(result.to_json(), indent=1, ensure_ascii=False) + "\n"
        write_atomically(json_path, text.encode("utf-8"))
        stderr_console().print(f"Wrote the changes to {json_path}", highlight=False, markup=False)
    return 1 if result.changes else 0


def _diff_files(a_path: str, b_path: str):
    from gradscope.analyse.diff import diff as compare

    a, b = load_capture(a_path), load_capture(b_path)
    if a.format_version != b.format_version:
        raise CaptureError(f"{a_path} has capture format {a.format_version} and {b_path} format {b.format_version}: "
                           "re-trace both with the same gradscope to compare them")
    return compare(a, b)


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
    from gradscope.console import stderr_console, stdout_console

    check_options(options)
    capture = load_capture(capture_path)
    if not outputs:
        outputs = ["-"]
        if fmt is None:
            fmt = "tree"
    planned = _plan_outputs(outputs, fmt)
    check_outputs([path for path, _, _ in planned], [capture_path])
    if any(path == "-" and f == "tree" for path, f, _ in planned) and len(planned) == 1:
        from gradscope.render.tree import print_report

        shown = for_terminal(capture)
        print_report(shown, stdout_console(), options)
        _print_incomplete(shown, stderr_console())
        return 0
    _write_all(capture, planned, options, stderr_console())
    return 0
