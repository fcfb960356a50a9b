"""`--format grads`: gradient norms per module over the backward calls of each call site.

In the terminal, a rich table with one unicode sparkline per module; as SVG/PNG/PDF, a chart drawn
by matplotlib (the optional extra `torch-gradscope[plots]`). Reads only the capture's `grad_health`.
"""

from __future__ import annotations

import io
import math

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from gradscope.analyse.norms import model_series, units
from gradscope.capture import Capture, NormSeries, NormSite
from gradscope.errors import RenderError

SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 40
CHART_LINES = 24  # modules drawn in a chart (the others are counted in the legend)


def shown_series(capture: Capture, site: NormSite) -> list[NormSeries]:
    """The model's norm, then each module's (its own parameters together), then each trainable
    tensor that no module holds."""
    model = model_series(site)
    return ([model] if model is not None else []) + [u.series for u in units(capture, site)]


def site_title(site: NormSite) -> str:
    where = f"{site.file}:{site.line}" if site.file else "backward"
    calls = f"{site.calls} call{'s' if site.calls != 1 else ''}"
    text = f"Gradient norms after each backward call at {where} ({calls})"
    if site.accumulated:
        text += (f"; {site.accumulated} of them added to gradients not yet used by an optimizer step, "
                 "so those norms are of the accumulated .grad")
    return text


def sparkline(series: NormSeries, width: int = SPARK_WIDTH) -> str:
    """One character per bucket of calls, log scale from this row's min to its max; `×` non-finite,
    `_` exactly zero."""
    values = series.series
    if not values:
        return ""
    buckets = [values[i * len(values) // width:(i + 1) * len(values) // width] for i in range(width)]
    buckets = [b for b in buckets if b]
    logs = [math.log10(v) for v in values if v]
    low, high = (min(logs), max(logs)) if logs else (0.0, 0.0)
    out = []
    for bucket in buckets:
        if any(v is None for v in bucket):
            out.append("×")
            continue
        positive = [v for v in bucket if v]
        if not positive:
            out.append("_")
            continue
        level = sum(math.log10(v) for v in positive) / len(positive)
        span = high - low
        index = int((level - low) / span * (len(SPARK) - 1) + 0.5) if span > 0 else len(SPARK) // 2
        out.append(SPARK[index])
    return "".join(out)


def _num(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def renderables(capture: Capture) -> list:
    health = capture.grad_health
    if health is None or not health.norms:
        return [Text("No gradient norms in this capture (traced with --no-grad-norms, or by an older gradscope).")]
    if not health.sites:
        return [Text("No gradient norms: the script made no backward call that left a .grad.")]
    parts: list = []
    for site in health.sites:
        table = Table(title=site_title(site), title_justify="left", box=None, pad_edge=False, header_style="bold")
        for column in ("name", "first", "median", "last", "min", "max", "zero", "non-finite"):
            table.add_column(column, justify="left" if column == "name" else "right")
        table.add_column("over the calls (log scale per row; _ zero, × NaN/Inf)", no_wrap=True)
        for s in shown_series(capture, site):
            table.add_row(Text(s.name), _num(s.first), _num(s.median), _num(s.last), _num(s.min), _num(s.max),
                          str(s.zeros), str(s.nonfinite), Text(sparkline(s)))
        parts.append(table)
    return parts


def render_text(capture: Capture, width: int = 200) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, no_color=True, highlight=False, emoji=False,
                      soft_wrap=False)
    console.print(Group(*renderables(capture)))
    return buffer.getvalue()


# -- charts (matplotlib) ---------------------------------------------------------------------------


def require_matplotlib(fmt: str) -> None:
    """Fail with a one-line hint (before a trace runs) when the `plots` extra is not installed."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise RenderError(f"{fmt.upper()} charts of gradient norms need matplotlib: pip install 'torch-gradscope[plots]' "
                          "(or render without -o for sparklines in the terminal)") from None


def render_chart(capture: Capture, fmt: str) -> bytes:
    """An SVG/PNG/PDF chart of each module's norm (log scale) over the backward calls."""
    require_matplotlib(fmt)
    import matplotlib
    from matplotlib.figure import Figure

    health = capture.grad_health
    if health is None or not health.norms or not health.sites:
        raise RenderError("no gradient norms in this capture to chart (traced with --no-grad-norms, or the "
                          "script made no backward call that left a .grad)")
    sites = health.sites
    with matplotlib.rc_context({"svg.hashsalt": "gradscope", "text.usetex": False}):
        fig = Figure(figsize=(9, 3.6 * len(sites)), layout="constrained")
        for index, site in enumerate(sites):
            ax = fig.add_subplot(len(sites), 1, index + 1)
            _plot_site(ax, capture, site)
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt in ("svg", "pdf") else None
        fig.savefig(buffer, format=fmt, metadata=metadata, dpi=110)
    return buffer.getvalue()


def _plot_site(ax, capture: Capture, site: NormSite) -> None:
    import matplotlib

    series = shown_series(capture, site)
    drawn = series[:CHART_LINES]
    colours = matplotlib.colormaps["viridis"]
    for i, s in enumerate(drawn):
        points = [(c, v) for c, v in zip(s.series_calls, s.series) if v]
        colour = colours(i / max(len(drawn) - 1, 1) * 0.9)  # modules in order: first dark, last yellow-green
        style = {"color": "black", "linewidth": 2.2} if s.of == "model" else {"linewidth": 1.2, "color": colour}
        if points:
            ax.plot([c for c, _ in points], [v for _, v in points], label=_plain(s.name), **style)
        bad = [c for c, v in zip(s.series_calls, s.series) if v is None]
        if bad:
            ax.plot(bad, [0.97] * len(bad), "x", color="red", transform=ax.get_xaxis_transform())
    ax.set_yscale("log")
    ax.set_xlabel("backward call")
    ax.set_ylabel("‖.grad‖₂")
    ax.set_title(_plain(site_title(site)), fontsize=9, loc="left", wrap=True)
    hidden = len(series) - len(drawn)
    handles, labels = ax.get_legend_handles_labels()
    if hidden > 0:
        handles.append(ax.plot([], [], " ")[0])
        labels.append(f"(+{hidden} more modules)")
    if handles:
        ax.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def _plain(text: str) -> str:
    """Names come from user code: `$` would start matplotlib's math mode."""
    return text.replace("$", r"\$")
