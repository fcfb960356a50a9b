"""The result of `gradscope check` (and of a failed session assertion) as text: one line per rule
that holds, one block per violation with its reasons and lines. Plain text, never markup."""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.text import Text

from gradscope.analyse.check import CheckResult, RuleResult, Violation

_WIDTH = 100


def violation_text(violation: Violation) -> str:
    """One block: the title with its lines, then each reason indented."""
    head = f"✗ {violation.title}"
    if violation.lines:
        head += f"  (line{'s' if len(violation.lines) > 1 else ''} {', '.join(map(str, violation.lines))})"
    body = [textwrap.fill(d, _WIDTH, initial_indent="    ", subsequent_indent="      ", break_long_words=False,
                          break_on_hyphens=False) for d in violation.details]
    return "\n".join([head, *body])


def violations_text(violations: list[Violation]) -> str:
    return "\n".join(violation_text(v) for v in violations)


def _held(rule: RuleResult) -> str:
    n = len(rule.matched)
    return f"✓ --{rule.rule} {rule.pattern}: {n} parameter{'s' if n != 1 else ''}"


def summary_line(result: CheckResult) -> str:
    script = result.script.replace("\\", "/").rsplit("/", 1)[-1]
    ranks = f" · {result.ranks} ranks" if result.ranks > 1 else ""
    n_rules, n_bad = len(result.rules) + _nan_checked(result), len(result.violations)
    verdict = "everything holds" if result.ok else f"{n_bad} violation{'s' if n_bad != 1 else ''}"
    stop = f" · stopped after backward call {result.stopped_after} (--stop-after)" if result.stopped_after else ""
    return f"gradscope check {script}{ranks} · {n_rules} rule{'s' if n_rules != 1 else ''} · {verdict}{stop}"


def _nan_checked(result: CheckResult) -> bool:
    return result.nan is not None or any(v.kind == "nan" for v in result.violations)


def _nan_held(result: CheckResult) -> list[str]:
    return [f"✓ --nan: {result.nan}"] if result.nan is not None else []


def render_text(result: CheckResult) -> str:
    parts = [summary_line(result)]
    parts += [_held(r) for r in result.rules if r.holds] + _nan_held(result)
    parts += [violation_text(v) for v in result.violations]
    return "\n".join(parts) + "\n"


def print_check(result: CheckResult, console: Console) -> None:
    console.print(Text(summary_line(result), style="bold"), soft_wrap=True)
    for rule in result.rules:
        if rule.holds:
            console.print(Text(_held(rule), style="green"), soft_wrap=True)
    for line in _nan_held(result):
        console.print(Text(line, style="green"), soft_wrap=True)
    for violation in result.violations:
        head, _, body = violation_text(violation).partition("\n")
        console.print(Text(head, style="bold red"), soft_wrap=True)
        if body:
            console.print(Text(body), soft_wrap=True)
