"""Findings for the terminal and as JSON. Every text from the user's code goes in as plain `Text`
(never markup), so names like `x[0]` or `[bold]` print as written."""

from __future__ import annotations

import textwrap

from rich.console import Console
from rich.text import Text

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def print_findings(found, console: Console, always: bool = False) -> None:
    if not found:
        if always:
            console.print(Text("Findings: nothing to report.", style="bold"))
        return
    counts = {}
    for f in found:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    summary = ", ".join(f"{n} {sev}{'s' if n > 1 and sev != 'info' else ''}" for sev, n in counts.items())
    console.print(Text(f"Findings ({summary})", style="bold"))
    for f in found:
        head = Text("  ")
        head.append(f.code, style="bold")
        head.append(" ")
        head.append(f.severity, style=_STYLE.get(f.severity, ""))
        head.append("  ")
        head.append(f.title)
        if f.lines:
            head.append(f"  (line{'s' if len(f.lines) > 1 else ''} {', '.join(map(str, f.lines))})", style="dim")
        console.print(head)
        console.print(_indented(f.message, console), soft_wrap=True)
        if f.fix:
            console.print(_indented(f"fix: {f.fix}", console, style="green"), soft_wrap=True)


def _indented(text: str, console: Console, style: str = "") -> Text:
    width = max(40, (console.width or 100) - 4)
    return Text(textwrap.fill(text, width=width, initial_indent="    ", subsequent_indent="    ",
                              break_long_words=False, break_on_hyphens=False), style=style)


def print_explanation(explanation, console: Console) -> None:
    if explanation is None:
        return
    name = explanation["name"]
    console.print(Text(f"Tensor {name}", style="bold"))
    if not explanation["tensors"]:
        console.print(Text(f"  no tensor named {name!r} was recorded"))
        return
    for t in explanation["tensors"]:
        line = Text(f"  {t['label']}: {t['kind']}, line {t['line']}, requires_grad={t['requires_grad']}, "
                    f"is_leaf={t['is_leaf']}")
        if t["grad"] != "unknown":
            line.append(f", got a gradient: {t['grad']}")
        if t.get("cut"):
            line.append(f", {t['cut']}")
        if t.get("objects", 1) > 1:
            line.append(f" ({t['objects']} tensors, one per run of that line)")
        console.print(line)
    for root in explanation["roots"]:
        console.print(Text(f"  from {root['root']} ({root['call']} at line {root['line']}):"))
        if not root["paths"]:
            console.print(Text("    no path: gradient from this root cannot reach it"))
        for path in root["paths"]:
            chain = " <- ".join(path["vertices"])
            if path["cuts"]:
                where = "; ".join(f"{' -> '.join(c['between'])}: {c['reason']}" for c in path["cuts"])
                console.print(Text(f"    cut   {chain}", style="red"))
                console.print(Text(f"          at {where}"))
            else:
                console.print(Text(f"    flows {chain}", style="green"))
        if root["more"]:
            console.print(Text(f"    ... {root['more']} more path(s) not shown"))


def findings_json(found) -> dict:
    return {"findings": [f.to_json() for f in found]}
