"""The command line: parse, call the stages, map errors to exit codes. Nothing else lives here."""

from __future__ import annotations

import sys
from types import FunctionType, GeneratorType
from typing import List, Optional

import typer

try:  # typer >= 0.26 vendors click
    from typer._click import exceptions as click_exceptions
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import exceptions as click_exceptions

from gradscope.errors import GradscopeError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Inspect the autograd graph of a PyTorch script: leaves, parameters, cuts, and why a .grad is None.",
)

_NO_NORMS_HELP = "Do not take gradient norms after each backward call."
_NAN_HELP = "Find the first op (forward) and node (backward) that made a NaN/Inf (slower: checks every op)."
_STOP_NAN_HELP = "Like --nan, and end the script (exit 1) at the first NaN/Inf."


def _health(no_grad_norms: bool, nan: bool, stop_after_nan: bool) -> dict:
    return {"grad_norms": not no_grad_norms, "nan": nan or stop_after_nan, "stop_after_nan": stop_after_nan}


# Everything after SCRIPT belongs to the script, even options gradscope also has.
_STOP_AFTER_HELP = "Stop the script (like sys.exit(0)) once its N-th backward call has returned, then report."
_SCRIPT_CONTEXT = {"allow_interspersed_args": False, "allow_extra_args": True, "ignore_unknown_options": False}


@app.command(context_settings=_SCRIPT_CONTEXT)
def trace(
    ctx: typer.Context,
    script: Optional[str] = typer.Argument(None, help="The script to run, followed by its own arguments."),
    module: Optional[str] = typer.Option(None, "-m", help="Run a module like `python -m` instead of a script."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the capture (JSON) to this path."),
    outputs: List[str] = typer.Option([], "-o", "--output", help="Write a rendering; format from the extension."),
    fmt: Optional[str] = typer.Option(None, "--format", help="Format for -o: tree, json, dot, svg, png, pdf, html."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print no report (files are still written)."),
    roots: List[str] = typer.Option([], "--root", help="Walk the graph from this variable instead (repeatable)."),
    step: Optional[int] = typer.Option(None, "--step", min=1, help="Record the N-th backward call's graph."),
    stop_after: Optional[int] = typer.Option(None, "--stop-after", min=1, help=_STOP_AFTER_HELP),
    depth: int = typer.Option(12, "--depth", min=1, help="Tree depth before eliding (with a count)."),
    view: Optional[str] = typer.Option(None, "--view", help="Report: module (per nn.Module, the default when "
                                       "the script made modules), graph (tensor tree), or all."),
    show_all: bool = typer.Option(False, "--all", help="One row per tensor in the table of leaves and parameters."),
    no_findings: bool = typer.Option(False, "--no-findings", help="Do not print the findings section."),
    module_depth: Optional[int] = typer.Option(None, "--module-depth", min=0, help="Collapse modules below this depth in pictures."),
    max_nodes: Optional[int] = typer.Option(None, "--max-nodes", min=1, help="Elide pictures beyond this many nodes."),
    saved: bool = typer.Option(False, "--saved", help="Show saved tensors in pictures."),
    unfold: bool = typer.Option(False, "--unfold", help="Draw repeated steps one by one instead of folding them."),
    ops: bool = typer.Option(False, "--ops", help="Draw grad_fn-only nodes, unnamed views and buffers in pictures."),
    rank: int = typer.Option(0, "--rank", min=0, help="Under torchrun: the rank that prints the report (each "
                             "rank writes its own files, e.g. cap.rank1.json)."),
    no_grad_norms: bool = typer.Option(False, "--no-grad-norms", help=_NO_NORMS_HELP),
    nan: bool = typer.Option(False, "--nan", help=_NAN_HELP),
    stop_after_nan: bool = typer.Option(False, "--stop-after-nan", help=_STOP_NAN_HELP),
) -> None:
    """Run SCRIPT under instrumentation and report its autograd graph."""
    from gradscope import commands

    args = list(ctx.args)
    if module is None and script is None:
        raise GradscopeError("missing SCRIPT: usage: gradscope trace [OPTIONS] SCRIPT [ARGS]...")
    if module is not None and script is not None:
        args.insert(0, script)
    options = {"depth": depth, "module_depth": module_depth, "max_nodes": max_nodes, "saved": saved,
               "unfold": unfold, "view": view, "all": show_all, "ops": ops}
    code = commands.trace(script=script, module=module, args=args, json_path=json_path, outputs=outputs,
                          fmt=fmt, quiet=quiet, roots=roots, step=step, findings=not no_findings,
                          render_options=options, report_rank=rank, stop_after=stop_after,
                          health=_health(no_grad_norms, nan, stop_after_nan))
    return code  # a job: main() runs the script and drives it to its exit code


@app.command(context_settings=_SCRIPT_CONTEXT)
def explain(
    ctx: typer.Context,
    target: Optional[str] = typer.Argument(None, help="A script (then its arguments) or a saved CAPTURE.json."),
    module: Optional[str] = typer.Option(None, "-m", help="Run a module like `python -m`."),
    tensors: List[str] = typer.Option([], "--tensor", help="Explain how gradient reaches this tensor."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the findings as JSON to this path."),
    step: Optional[int] = typer.Option(None, "--step", min=1, help="Record the N-th backward call's graph."),
    stop_after: Optional[int] = typer.Option(None, "--stop-after", min=1, help=_STOP_AFTER_HELP),
    no_grad_norms: bool = typer.Option(False, "--no-grad-norms", help=_NO_NORMS_HELP),
    nan: bool = typer.Option(False, "--nan", help=_NAN_HELP),
    stop_after_nan: bool = typer.Option(False, "--stop-after-nan", help=_STOP_NAN_HELP),
) -> None:
    """Say why a gradient is None or why backward failed, pointing at the script's lines."""
    from gradscope import commands

    args = list(ctx.args)
    if module is None and target is None:
        raise GradscopeError("missing SCRIPT or CAPTURE.json: usage: gradscope explain [OPTIONS] SCRIPT [ARGS]...")
    if module is not None and target is not None:
        args.insert(0, target)
    code = commands.explain(target=target, module=module, args=args, tensors=tensors, json_path=json_path,
                            step=step, stop_after=stop_after,
                            health=_health(no_grad_norms, nan, stop_after_nan))
    return code  # a job: main() runs the script and drives it to its exit code


@app.command(context_settings=_SCRIPT_CONTEXT)
def check(
    ctx: typer.Context,
    script: Optional[str] = typer.Argument(None, help="The script to run, followed by its own arguments."),
    module: Optional[str] = typer.Option(None, "-m", help="Run a module like `python -m`."),
    trains: List[str] = typer.Option([], "--trains", metavar="PATTERN",
                                     help="Parameters matching this glob must train (repeatable)."),
    frozen: List[str] = typer.Option([], "--frozen", metavar="PATTERN",
                                     help="Parameters matching this glob must stay frozen (repeatable)."),
    fail_on: str = typer.Option("error", "--fail-on", metavar="error|warning|info|never",
                                help="Also fail on findings of this severity or above."),
    stop_after: Optional[int] = typer.Option(None, "--stop-after", min=1, help=_STOP_AFTER_HELP),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the results as JSON to this path."),
    nan: bool = typer.Option(False, "--nan", help="Fail when a forward value or a gradient became NaN/Inf, "
                             "naming the op that made it first (slower: checks every op)."),
) -> None:
    """Run SCRIPT and check where gradient flows: exit 0 when every rule holds, 1 otherwise."""
    from gradscope import commands

    args = list(ctx.args)
    if module is None and script is None:
        raise GradscopeError("missing SCRIPT: usage: gradscope check [OPTIONS] SCRIPT [ARGS]...")
    if module is not None and script is not None:
        args.insert(0, script)
    code = commands.check(script=script, module=module, args=args, trains=trains, frozen=frozen,
                          fail_on=fail_on, json_path=json_path, stop_after=stop_after, nan=nan)
    return code  # a job: main() runs the script and drives it to its exit code


@app.command()
def diff(
    a: str = typer.Argument(..., metavar="A.json", help="The capture before (e.g. from the main branch)."),
    b: str = typer.Argument(..., metavar="B.json", help="The capture after."),
    json_path: Optional[str] = typer.Option(None, "--json", help="Write the changes as JSON to this path."),
) -> None:
    """What changed in gradient flow between two captures: exit 0 if nothing, 1 if something, 2 on bad input."""
    from gradscope import commands

    raise typer.Exit(commands.diff(a, b, json_path))


@app.command()
def render(
    capture_path: str = typer.Argument(..., metavar="CAPTURE.json", help="A capture written by --json."),
    outputs: List[str] = typer.Option([], "-o", "--output", help="Write here (format from the extension; - for stdout)."),
    fmt: Optional[str] = typer.Option(None, "--format", help="tree, json, dot, svg, png, pdf or html."),
    depth: int = typer.Option(12, "--depth", min=1, help="Tree depth before eliding (with a count)."),
    view: Optional[str] = typer.Option(None, "--view", help="Report: module, graph or all."),
    show_all: bool = typer.Option(False, "--all", help="One row per tensor in the table of leaves and parameters."),
    module_depth: Optional[int] = typer.Option(None, "--module-depth", min=0),
    max_nodes: Optional[int] = typer.Option(None, "--max-nodes", min=1),
    saved: bool = typer.Option(False, "--saved"),
    unfold: bool = typer.Option(False, "--unfold"),
    ops: bool = typer.Option(False, "--ops", help="Draw grad_fn-only nodes, unnamed views and buffers."),
) -> None:
    """Re-render a saved capture without re-running the script (and without importing torch)."""
    from gradscope import commands

    options = {"depth": depth, "module_depth": module_depth, "max_nodes": max_nodes, "saved": saved,
               "unfold": unfold, "view": view, "all": show_all, "ops": ops}
    raise typer.Exit(commands.render(capture_path, outputs, fmt, options))


def main(argv: list[str] | None = None) -> None:
    """Entry point: gradscope's own errors become one line on stderr and a non-zero exit.

    A command that runs a script is a job (a generator, see `commands.run_job`) that yields the
    prepared trace; the script's code is executed right here, so that below the script's frame the
    stack holds only this frame and the launcher's (python's recursion limit, `inspect.stack()` and
    warnings' `stacklevel` see almost the stack `python script.py` gives)."""
    try:
        code = app(args=argv, prog_name="gradscope", standalone_mode=False)
        if isinstance(code, GeneratorType):
            job, code = code, None
            try:
                prepared = next(job)
            except StopIteration as done:
                code = done.value
            else:
                script = prepared.begin()
                failure = None
                if script is not None:
                    try:
                        with prepared.instrumentation:
                            FunctionType(script, prepared.namespace)()  # unlike exec(), costs no C-level depth
                    except BaseException as exc:  # noqa: BLE001 - the script's own: judged by the runner
                        failure = exc
                result = prepared.finish(failure)
                del failure
                try:
                    job.send(result)
                    raise RuntimeError("a command yielded more than one script run")
                except StopIteration as done:
                    code = done.value
    except GradscopeError as exc:
        from gradscope.escape import printable

        print(f"gradscope: error: {printable(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except click_exceptions.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(0)
    except click_exceptions.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        hint = f"; see '{ctx.command_path} --help'" if ctx is not None else ""
        print(f"gradscope: error: {exc.format_message().rstrip('.')}{hint}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except (typer.Exit, getattr(click_exceptions, "Exit", typer.Exit)) as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, getattr(click_exceptions, "Abort", typer.Abort)):
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)
