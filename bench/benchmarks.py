"""The benchmarks of issue 6. Each returns rows: (benchmark, figure, value text, target text, met).

`met` is True/False against the target, or None for figures that are context, not targets.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from bench.harness import GRADSCOPE, PY, ROOT, alternate, median, peak_rss, run, workload

PEERS_PY = os.path.join(ROOT, "bench", ".peers", "bin", "python")


class Settings:
    def __init__(self, quick: bool, device: str):
        self.quick = quick
        self.device = device
        self.repeats = 1 if quick else 3
        self.tmp = tempfile.mkdtemp(prefix="gradscope-bench-")


def _svg_available() -> bool:
    try:
        import gradscope.render.registry  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def transformer(s: Settings) -> list:
    steps = "1" if s.quick else "3"
    plain = [PY, workload("transformer"), steps, s.device]
    svg = s.device == "cpu" and _svg_available()
    report = ["--module-depth", "2", "-o", os.path.join(s.tmp, "transformer.svg")] if svg else \
        ["--json", os.path.join(s.tmp, "transformer.json")]
    traced = [*GRADSCOPE, *report, workload("transformer"), steps, s.device]
    plains, traceds = alternate(plain, traced, s.repeats)
    p_steps, t_steps = median(r.facts["steps_s"] for r in plains), median(r.facts["steps_s"] for r in traceds)
    p_wall, t_wall = median(r.wall_s for r in plains), median(r.wall_s for r in traceds)
    whole = "whole process incl. tree + SVG (module depth 2)" if svg else "whole process incl. tree + JSON (no SVG here)"
    return [
        ("transformer", f"{steps} training steps on {s.device}: plain {p_steps:.2f} s, traced {t_steps:.2f} s",
         f"{t_steps / p_steps:.2f}x", "<= 1.10x", t_steps / p_steps <= 1.10),
        ("transformer", f"{whole}: plain {p_wall:.2f} s, traced {t_wall:.2f} s",
         f"{t_wall / p_wall:.2f}x", "<= 1.50x", t_wall / p_wall <= 1.5),
    ]


def tiny_ops(s: Settings) -> list:
    ops = "20000" if s.quick else "100000"
    plains, traceds = alternate([PY, workload("tiny_ops"), ops], [*GRADSCOPE, "-q", workload("tiny_ops"), ops],
                                s.repeats)
    p, t = median(r.facts["ops_s"] for r in plains), median(r.facts["ops_s"] for r in traceds)
    n = plains[0].facts["ops"]
    per_op = (t - p) / n * 1e6
    return [
        ("tiny_ops", f"{n} ops on 2-element tensors: plain {p / n * 1e6:.1f} us/op, traced {t / n * 1e6:.1f} us/op",
         f"{per_op:.1f} us/op overhead", "<= 15 us/op", per_op <= 15),
        ("tiny_ops", "traced/plain time of the op loop", f"{t / p:.2f}x", "(context)", None),
    ]


def deep_rnn(s: Settings) -> list:
    steps = "3000" if s.quick else "20000"
    plain = run([PY, workload("deep_rnn"), steps])
    staged = run([PY, "-m", "bench.stages", "deep_rnn", s.tmp, steps])
    f = staged.facts
    if f.get("recursion_error"):
        return [("deep_rnn", f"{steps} steps", "RecursionError", "no RecursionError", False)]
    return [
        ("deep_rnn", f"RNNCell x {steps}: record + walk + tree ({f['nodes']} nodes, {f['edges']} edges; "
                     f"plain run {plain.facts['run_s']:.2f} s)", f"{f['record_walk_tree_s']:.2f} s", "< 3 s",
         f["record_walk_tree_s"] < 3),
        ("deep_rnn", f"DOT export ({f['dot_bytes'] // 1024} KiB)", f"{f['dot_s']:.2f} s", "< 5 s", f["dot_s"] < 5),
        ("deep_rnn", "RecursionError in record, walk, tree, DOT, JSON", "none", "none", True),
    ]


def rnn_svg(s: Settings) -> list:
    """Issue 3's target: the SVG of an RNNCell unrolled 5,000 steps, folded into one drawn step."""
    if not _svg_available():
        return [("rnn_svg", "RNNCell x 5000 to SVG", "no Graphviz here", "< 10 s", None)]
    steps = "1000" if s.quick else "5000"
    cap, svg = os.path.join(s.tmp, "rnn.json"), os.path.join(s.tmp, "rnn.svg")
    plain = run([PY, workload("deep_rnn"), steps])
    traced = run([*GRADSCOPE, "-q", "--json", cap, "-o", svg, workload("deep_rnn"), steps])
    drawn = run([PY, "-m", "bench.render_time", cap, os.path.join(s.tmp, "rnn2.svg")]).facts["render_s"]
    return [
        ("rnn_svg", f"RNNCell x {steps}: trace + capture + SVG, whole process {traced.wall_s:.2f} s "
                    f"(plain run {plain.wall_s:.2f} s)", f"{traced.wall_s:.2f} s", "< 10 s", traced.wall_s < 10),
        ("rnn_svg", "the picture alone: load the capture + fold + lay out the SVG", f"{drawn:.2f} s", "(context)",
         None),
    ]


def big_activations(s: Settings) -> list:
    batch = "4096" if s.quick else "32768"
    plain = peak_rss([PY, workload("big_activations"), batch])
    traced = peak_rss([*GRADSCOPE, "-q", "--json", os.path.join(s.tmp, "big.json"), workload("big_activations"),
                       batch])
    f = plain.facts
    ratio = traced.maxrss_mb / plain.maxrss_mb
    return [
        ("big_activations", f"10 x Linear(1024,1024)+ReLU, batch {batch}: activations "
                            f"{f['activation_bytes'] / 2**20:.0f} MiB, weights {f['weight_bytes'] / 2**20:.0f} MiB",
         "", "", None),
        ("big_activations", f"peak RSS: plain {plain.maxrss_mb:.0f} MiB, traced {traced.maxrss_mb:.0f} MiB",
         f"{ratio:.3f}x", "<= 1.05x", ratio <= 1.05),
    ]


def _size_shape(path: str) -> tuple[int, dict]:
    """Capture size, and the capture with its counters (backward calls, calls per root, argv) and the
    final gradient values (data, not structure) blanked out."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    data = json.loads(text)
    data.pop("argv", None)
    data.pop("backward_calls", None)
    for root in data.get("roots", []):
        root.pop("calls", None)
    for tensor in data.get("tensors", []):
        if tensor.get("grad_values") is not None:
            tensor["grad_values"] = len(tensor["grad_values"])
    return len(text.encode("utf-8")), data


def loop(s: Settings) -> list:
    steps = "200" if s.quick else "1000"
    plains, traceds = alternate([PY, workload("loop"), steps], [*GRADSCOPE, "-q", workload("loop"), steps],
                                s.repeats)
    p, t = median(r.facts["loop_s"] for r in plains), median(r.facts["loop_s"] for r in traceds)
    pw, tw = median(r.wall_s for r in plains), median(r.wall_s for r in traceds)
    sizes = {}
    shapes = {}
    for n in ("100", steps):  # the graph's record, without the gradient-norm series (bounded apart, below)
        path = os.path.join(s.tmp, f"loop{n}.json")
        run([*GRADSCOPE, "-q", "--no-grad-norms", "--json", path, workload("loop"), n])
        sizes[n], shapes[n] = _size_shape(path)
    same = shapes["100"] == shapes[steps]
    normed = {}
    for n in ("600", "1200"):  # both past the 512 points to which each norm series is thinned
        path = os.path.join(s.tmp, f"loop{n}-norms.json")
        run([*GRADSCOPE, "-q", "--json", path, workload("loop"), n])
        normed[n] = os.path.getsize(path)
    grown = normed["1200"] / normed["600"]
    return [
        ("loop", f"{steps} MLP steps: plain {p:.2f} s, traced {t:.2f} s", f"{t / p:.2f}x", "<= 1.50x", t / p <= 1.5),
        ("loop", f"whole process: plain {pw:.2f} s, traced {tw:.2f} s", f"{tw / pw:.2f}x", "(context)", None),
        ("loop", f"capture size 100 vs {steps} steps, --no-grad-norms (same but for counters and grad values: "
                 f"{'yes' if same else 'NO'})", f"{sizes['100']} / {sizes[steps]} bytes", "independent of steps", same),
        ("loop", "capture size with gradient norms, 600 vs 1200 steps (series thinned to <= 512 points)",
         f"{normed['600']} / {normed['1200']} bytes", "<= 1.05x", grown <= 1.05),
    ]


def assignments(s: Settings) -> list:
    """Two loops of plain-Python assignments: one whose bindings gradscope proves plain from the source
    (no check is inserted), and one whose values it cannot prove (each binding keeps its check)."""
    steps = "300000" if s.quick else "1000000"
    rows = []
    for script, what in (("assignments", "proven plain from the source"),
                         ("opaque_assignments", "checked at run time")):
        plains, traceds = alternate([PY, workload(script), steps], [*GRADSCOPE, "-q", workload(script), steps],
                                    s.repeats)
        p, t = median(r.facts["loop_s"] for r in plains), median(r.facts["loop_s"] for r in traceds)
        n = plains[0].facts["assignments"]
        rows.append(("assignments", f"{n} plain-Python assignments, {what}: plain {p:.2f} s, traced {t:.2f} s",
                     f"{t / p:.2f}x", "<= 1.30x", t / p <= 1.3))
    return rows


def peers(s: Settings) -> list:
    if not os.path.exists(PEERS_PY):
        return [("peers", "torchviz, torchview, torchlens", "not installed",
                 "see `python -m bench --install-peers`", None)]
    rows = []
    cap = os.path.join(s.tmp, "peer-model.json")
    traced = run([*GRADSCOPE, "-q", "--module-depth", "2", "--json", cap, "-o", os.path.join(s.tmp, "peer.svg"),
                  workload("transformer"), "0"])
    render = run([PY, "-m", "gradscope", "render", cap, "--module-depth", "2", "-o", os.path.join(s.tmp, "re.svg")])
    drawn = run([PY, "-m", "bench.render_time", cap, os.path.join(s.tmp, "re2.svg")]).facts["render_s"]
    for tool in ("torchviz", "torchview", "torchlens"):
        try:
            r = run([PEERS_PY, os.path.join(ROOT, "bench", "peers.py"), tool, s.tmp])
        except RuntimeError as exc:
            rows.append(("peers", tool, "failed", str(exc).splitlines()[0][:60], None))
            continue
        if tool == "torchviz":
            viz = r.facts["tool_s"]
            rows.append(("peers", f"gradscope picture from a saved capture (load + SVG, in process) {drawn:.2f} s vs "
                                  f"torchviz make_dot + render of the computed graph {viz:.2f} s",
                         f"{drawn / viz:.2f}x", "< 1x", drawn < viz))
            rows.append(("peers", f"`gradscope render` as a command (process start included) {render.wall_s:.2f} s "
                                  f"vs torchviz as above", f"{render.wall_s / viz:.2f}x", "(context)", None))
        else:
            rows.append(("peers", f"gradscope trace + SVG of one forward pass (whole process) {traced.wall_s:.2f} s "
                                  f"vs {tool} whole process {r.wall_s:.2f} s", f"{traced.wall_s / r.wall_s:.2f}x",
                         "< 1x", traced.wall_s < r.wall_s))
    return rows


def load(s: Settings) -> list:
    """Issue 12: reading and validating a 100k-node capture (json + hand-written checks took about 4 s)."""
    steps = "2000" if s.quick else "17000"
    cap = os.path.join(s.tmp, "load.json")
    run([*GRADSCOPE, "-q", "--json", cap, workload("deep_rnn"), steps])
    loads = [run([PY, "-m", "bench.load_time", cap]) for _ in range(s.repeats)]
    f = loads[0].facts
    load_s = median(r.facts["load_s"] for r in loads)
    return [("load", f"load + validate a capture of {f['nodes']} nodes, {f['tensors']} tensors "
                     f"({f['bytes'] / 2**20:.0f} MiB), in process", f"{load_s:.2f} s", "< 1 s", load_s < 1)]


def diff(s: Settings) -> list:
    """Issue 13: `gradscope diff` of two 100k-node captures, loading included, in under 10 s. The two
    sides are traced here (bench/workloads/diff_rnn.py a / b: the same RNN, then a frozen bias, a new
    probe head and a detach), not stored in the repository."""
    steps = "2000" if s.quick else "17000"
    caps = [os.path.join(s.tmp, f"diff_{side}.json") for side in "ab"]
    for side, cap in zip("ab", caps):
        run([*GRADSCOPE, "-q", "--json", cap, workload("diff_rnn"), steps, side])
    command = [PY, "-m", "gradscope", "diff", *caps]
    whole = median(run(command, codes=(1,)).wall_s for _ in range(s.repeats))  # 1: the captures differ
    staged = [run([PY, "-m", "bench.diff_time", *caps]).facts for _ in range(s.repeats)]
    f = staged[0]
    load_s, diff_s, json_s = (median(x[k] for x in staged) for k in ("load_s", "diff_s", "json_s"))
    total_s, cpu_s = median(x["total_s"] for x in staged), median(x["total_cpu_s"] for x in staged)
    size = max(os.path.getsize(cap) for cap in caps) / 2**20
    return [
        ("diff", f"`gradscope diff` of two captures of {f['nodes'][0]} / {f['nodes'][1]} nodes (up to {size:.0f} MiB"
                 f"), {f['changes']} changes: whole process", f"{whole:.2f} s", "< 10 s", whole < 10),
        ("diff", f"in process: load both {load_s:.2f} s + compare {diff_s:.2f} s ({cpu_s:.2f} s CPU) vs plain "
                 f"json.loads of both files {json_s:.2f} s", f"{total_s / json_s:.2f}x", "(context)", None),
    ]


def grad_health(s: Settings) -> list:
    """Issue 14: the cost of gradient norms (on by default) and of --nan, beside detect_anomaly, and
    what each says about the first non-finite value of tests/scripts/health_nan_log.py."""
    steps = "1" if s.quick else "3"
    load = [workload("transformer"), steps, s.device]
    anomaly = [PY, "-c", "import runpy, sys, torch; torch.autograd.set_detect_anomaly(True); "
               "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"]
    plains, normed = alternate([PY, *load], [*GRADSCOPE, "-q", *load], s.repeats)
    _, bare = alternate([PY, *load], [*GRADSCOPE, "-q", "--no-grad-norms", *load], s.repeats)
    _, nans = alternate([PY, *load], [*GRADSCOPE, "-q", "--nan", *load], s.repeats)
    _, anomalies = alternate([PY, *load], [*anomaly, *load], s.repeats)
    p = median(r.facts["steps_s"] for r in plains)
    n, b = median(r.facts["steps_s"] for r in normed), median(r.facts["steps_s"] for r in bare)
    x, a = median(r.facts["steps_s"] for r in nans), median(r.facts["steps_s"] for r in anomalies)
    rows = [
        ("grad_health", f"transformer, {steps} steps: plain {p:.2f} s, traced with norms {n:.2f} s, "
                        f"traced --no-grad-norms {b:.2f} s", f"{n / p:.2f}x", "<= 1.10x", n / p <= 1.10),
        ("grad_health", f"transformer: --nan {x:.2f} s vs torch.autograd.detect_anomaly {a:.2f} s (plain {p:.2f} s)",
         f"{x / p:.2f}x vs {a / p:.2f}x", "(context)", None),
    ]
    script = os.path.join(ROOT, "tests", "scripts", "health_nan_log.py")
    cap = os.path.join(s.tmp, "nan.json")
    run([*GRADSCOPE, "-q", "--nan", "--json", cap, script])
    with open(cap, encoding="utf-8") as fh:
        origins = json.load(fh)["grad_health"]["nan"]
    ours = "; ".join(f"{o['phase']} `{o['op']}` line {o['line']} (after {o['call']} backward calls)" for o in origins)
    try:
        run([*anomaly, script])
        theirs = "no error"
    except RuntimeError as exc:
        lines = [line for line in str(exc).splitlines() if "Error" in line and "returned" in line]
        theirs = lines[-1].strip()[:110] if lines else str(exc).splitlines()[-1][:110]
    rows.append(("grad_health", f"health_nan_log.py (log(x - 2) at line 10 turns -inf at step 6): gradscope --nan: "
                                f"{ours}", "", "(context)", None))
    rows.append(("grad_health", f"same script, detect_anomaly (checks NaN only, not Inf): {theirs}", "", "(context)",
                 None))
    return rows


ALL = {"transformer": transformer, "tiny_ops": tiny_ops, "deep_rnn": deep_rnn, "rnn_svg": rnn_svg,
       "big_activations": big_activations, "loop": loop, "assignments": assignments, "peers": peers, "load": load,
       "grad_health": grad_health, "diff": diff}
