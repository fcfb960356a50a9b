"""The one place that knows every output format: its renderer, extensions, text or binary, needs `dot`.

Like pyinstrument's `get_renderer_class` / `guess_renderer_from_outfile`: the CLI, `gradscope
render`, the Python API and the file writer all pick renderers here, and nowhere else. Renderer
modules are imported only when used (the tree needs rich, pictures need nothing but `dot`), so
importing the registry is cheap and creates no import cycle inside `render/`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

from gradscope.capture import Capture
from gradscope.errors import UsageError


@dataclass(frozen=True)
class Renderer:
    format: str
    extensions: tuple[str, ...]
    binary: bool  # never written to a terminal
    needs_dot: bool  # laid out by Graphviz's `dot`
    render: Callable[[Capture, dict], bytes]
    help: str


def _json(capture: Capture, options: dict) -> bytes:
    return (capture.dumps() + "\n").encode("utf-8")


def _tree(capture: Capture, options: dict) -> bytes:
    from gradscope.escape import for_terminal
    from gradscope.render.tree import render_text

    return render_text(for_terminal(capture), options).encode("utf-8")


def _dot(capture: Capture, options: dict) -> bytes:
    from gradscope.render.dot import render_dot

    return render_dot(capture, options).encode("utf-8")


def _laid_out(fmt: str) -> Callable[[Capture, dict], bytes]:
    def render(capture: Capture, options: dict) -> bytes:
        from gradscope.render.dot import render_dot
        from gradscope.render.graphviz import run_dot

        return run_dot(render_dot(capture, options), fmt)

    return render


def _grads(capture: Capture, options: dict) -> bytes:
    from gradscope.escape import for_terminal
    from gradscope.render.grads import render_text

    return render_text(for_terminal(capture)).encode("utf-8")


def _grads_chart(fmt: str) -> Callable[[Capture, dict], bytes]:
    def render(capture: Capture, options: dict) -> bytes:
        from gradscope.render.grads import render_chart

        return render_chart(capture, fmt)

    return render


def _html(capture: Capture, options: dict) -> bytes:
    from gradscope.render.html import render_html

    return render_html(capture, options).encode("utf-8")


RENDERERS: dict[str, Renderer] = {r.format: r for r in (
    Renderer("tree", (".txt",), False, False, _tree, "the terminal report, as plain text"),
    Renderer("json", (".json",), False, False, _json, "the capture itself (re-render it with `gradscope render`)"),
    Renderer("dot", (".dot", ".gv"), False, False, _dot, "Graphviz source of the picture"),
    Renderer("svg", (".svg",), True, True, _laid_out("svg"), "the picture as SVG"),
    Renderer("png", (".png",), True, True, _laid_out("png"), "the picture as PNG"),
    Renderer("pdf", (".pdf",), True, True, _laid_out("pdf"), "the picture as PDF"),
    Renderer("html", (".html", ".htm"), False, True, _html, "one self-contained page: picture, pan/zoom, details"),
    Renderer("grads", (), False, False, _grads, "gradient norms per module over the backward calls (sparklines)"),
    # `--format grads -o chart.svg`: the same as a chart (matplotlib, the `plots` extra)
    Renderer("grads.svg", (), True, False, _grads_chart("svg"), "gradient norm chart as SVG"),
    Renderer("grads.png", (), True, False, _grads_chart("png"), "gradient norm chart as PNG"),
    Renderer("grads.pdf", (), True, False, _grads_chart("pdf"), "gradient norm chart as PDF"),
)}
GRADS_CHARTS = {".svg": "grads.svg", ".png": "grads.png", ".pdf": "grads.pdf"}
EXTENSIONS: dict[str, str] = {ext: r.format for r in RENDERERS.values() for ext in r.extensions}


VIEWS = ("module", "graph", "all")  # the terminal report's views; none given: module when the script made modules


def check_options(options: dict) -> None:
    """Reject a bad option before a script runs, not after."""
    view = options.get("view")
    if view is not None and view not in VIEWS:
        raise UsageError(f"unknown view {view!r}; choose one of {', '.join(VIEWS)}")


def get_renderer(fmt: str) -> Renderer:
    renderer = RENDERERS.get(fmt.lower())
    if renderer is None:
        choices = sorted(f for f in RENDERERS if "." not in f)
        raise UsageError(f"unknown format {fmt!r}; choose one of {', '.join(choices)}")
    return renderer


def guess_format(path: str, explicit: str | None) -> str:
    """`--format` if given, else from the extension; `-` (stdout) is the tree."""
    if explicit:
        fmt = get_renderer(explicit).format
        if fmt == "grads" and path != "-":
            ext = os.path.splitext(path)[1].lower()
            if ext in GRADS_CHARTS:
                return GRADS_CHARTS[ext]
            if ext not in (".txt", ""):
                raise UsageError(f"--format grads writes text (.txt) or a chart ({', '.join(GRADS_CHARTS)}), "
                                 f"not {ext}")
        return fmt
    if path == "-":
        return "tree"
    ext = os.path.splitext(path)[1].lower()
    if ext not in EXTENSIONS:
        raise UsageError(f"cannot tell the format of {path!r} from its extension; use one of "
                         f"{', '.join(sorted(EXTENSIONS))} or --format")
    return EXTENSIONS[ext]


def render(capture: Capture, fmt: str, options: dict | None = None) -> bytes:
    return get_renderer(fmt).render(capture, options or {})
