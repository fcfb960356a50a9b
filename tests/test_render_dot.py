"""Graph pictures of the seed samples: golden DOT, real SVG from `dot`, round trip, stable ids.

The captures under tests/data/sample_*.json were written by `gradscope trace --json` on
samples/*.py (see tests/gold/README.md). On a gold mismatch the actual DOT goes to
tests/actual/dot/ and the diff is printed; `UPDATE_GOLD=1` rewrites the gold files.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, SAMPLES, run_gradscope

from gradscope.capture import Capture
from gradscope.render.dot import KIND_STYLES, render_dot
from gradscope.render.registry import render

DATA = ROOT / "tests" / "data"
GOLD = ROOT / "tests" / "gold" / "dot"
ACTUAL = ROOT / "tests" / "actual" / "dot"
CAPTURES = sorted(DATA.glob("sample_*.json"))
NAMES = [p.stem[len("sample_"):] for p in CAPTURES]


def _load(name: str) -> Capture:
    return Capture.loads((DATA / f"sample_{name}.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", NAMES)
def test_data_capture_is_what_trace_writes_today(name, tmp_path):
    """tests/data is generated: a capture that today's `trace` would write differently is stale
    (regenerate everything with `make gold`)."""
    out = tmp_path / "capture.json"
    run_gradscope("trace", "--quiet", "--json", out, f"samples/{name}.py", cwd=ROOT)
    assert out.read_text(encoding="utf-8") == (DATA / f"sample_{name}.json").read_text(encoding="utf-8"), \
        f"tests/data/sample_{name}.json is stale: run `make gold`"


@pytest.mark.parametrize("name", NAMES)
def test_dot_matches_gold(name):
    text = render_dot(_load(name), {})
    gold = GOLD / f"{name}.dot"
    if os.environ.get("UPDATE_GOLD"):
        GOLD.mkdir(parents=True, exist_ok=True)
        gold.write_text(text, encoding="utf-8")
    expected = gold.read_text(encoding="utf-8")
    if text != expected:
        ACTUAL.mkdir(parents=True, exist_ok=True)
        (ACTUAL / gold.name).write_text(text, encoding="utf-8")
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), str(gold), "actual"))
        pytest.fail(f"DOT for {name} differs from {gold} (actual in {ACTUAL}):\n{diff}")


@pytest.mark.parametrize("name", NAMES)
def test_svg_from_real_dot_and_round_trip(name):
    capture = _load(name)
    direct = render(capture, "svg", {})
    assert direct.lstrip().startswith(b"<?xml") and b"</svg>" in direct
    again = Capture.loads(capture.dumps())
    assert render(again, "dot", {}) == render(capture, "dot", {})
    assert render(again, "svg", {}) == direct
    # every drawn vertex of the graph is in the SVG, by its stable id
    ids = set(re.findall(r'id="([tnm]\d+(?:r\d+)?|empty)"', render_dot(capture, {})))
    svg = direct.decode("utf-8")
    assert ids and all(f'id="{i}"' in svg for i in ids)


# What gradscope drew for a BERT with frozen embeddings, cut down (nodes and edges as drawn): Graphviz
# 2.43 (Debian's) stops with "trouble in init_rank" on its two rank=same hints beside labelled edges.
_RANK_TROUBLE = """digraph gradscope {
  graph [newrank=true];
  subgraph cluster_0 { subgraph cluster_3 { subgraph cluster_17 { t61;
    subgraph cluster_19 { t62; t4; t5; } } } }
  t63 -> m12; t62 -> t63; t61 -> t62;
  t4 -> t62 [style=dashed, label=<frozen · line 11>];
  t5 -> t62 [style=dashed, label=<frozen · line 11>];
  t59 -> t61; t78 -> m12; t77 -> t78; t75 -> t77; t76 -> t77;
  { rank=same; t4; t62; }
  { rank=same; t5; t62; }
}
"""


def test_a_graph_whose_rank_hints_trip_graphviz_is_laid_out_without_them():
    from gradscope.render.graphviz import run_dot

    svg = run_dot(_RANK_TROUBLE, "svg").decode("utf-8")
    assert all(f"<title>{v}</title>" in svg for v in ("t4", "t5", "t59", "t61", "t62", "t63", "m12"))
    assert svg.count("frozen · line 11") == 2


def test_no_addresses_and_ids_follow_the_capture():
    for name in NAMES:
        text = render_dot(_load(name), {})
        assert not re.search(r"0x[0-9a-fA-F]{6,}", text), name
        for vid in re.findall(r"^\s*([a-z_]\w*) \[id=", text, re.M):
            assert re.fullmatch(r"[tn]\d+|m\d+(r\d+)?|elided|empty", vid), vid


def test_each_kind_reads_without_colour():
    looks = [(shape, style.replace(",filled", "")) for shape, style, _, _ in KIND_STYLES.values()]
    assert len(set(looks)) == len(looks)


def test_detach_cut_edge_is_dashed_and_names_the_line():
    """detach.py: x1 = x.detach() — the edge from x (MulBackward0) into x1 is dashed, with its line."""
    source = (SAMPLES / "detach.py").read_text().splitlines()
    line = next(i for i, text in enumerate(source, 1) if text.startswith("x1 = x.detach()"))
    capture = _load("detach")
    x1 = next(t for t in capture.tensors if t.name == "x1")
    x = next(t for t in capture.tensors if t.id == x1.detached_from)
    assert x.grad_fn == "MulBackward0"
    text = render_dot(capture, {})
    edge = re.search(rf"^\s*t{x.id} -> t{x1.id} \[(.*)\];$", text, re.M)
    assert edge, text
    assert "style=dashed" in edge.group(1) and f"detach() · line {line}" in edge.group(1)
    node = re.search(rf"^\s*t{x1.id} \[(.*)\];$", text, re.M).group(1)
    assert "shape=octagon" in node and "dashed" in node
    # gradient edges are solid: y feeds the mul that reaches the root
    y = next(t for t in capture.tensors if t.name == "y")
    assert re.search(rf"^\s*t{y.id} -> t\d+ \[style=solid\];$", text, re.M)


def test_no_grad_sample_marks_no_grad_results():
    capture = _load("no_grad")
    text = render_dot(capture, {})
    cut = [t for t in capture.tensors if t.kind == "no_grad"]
    assert {t.name for t in cut} >= {"y2", "y3"}
    for t in cut:
        node = re.search(rf"^\s*t{t.id} \[(.*)\];$", text, re.M).group(1)
        assert "shape=hexagon" in node and f"no_grad · line {t.cut_line}" in node
    root = capture.roots[0].tensor
    assert "peripheries=2" in re.search(rf"^\s*t{root} \[(.*)\];$", text, re.M).group(1)


def test_saved_option_shows_saved_values():
    capture = _load("detach")
    plain, saved = render_dot(capture, {}), render_dot(capture, {"saved": True})
    assert "saved " not in plain
    assert "saved alpha = 1" in saved and "saved other: [] int64" in saved


def test_module_depth_collapses_into_one_box_per_module():
    capture = _load("training_loop")
    full = render_dot(capture, {"module_depth": 9})
    assert "model.body.0.weight" in full and "cluster" in full
    collapsed = render_dot(capture, {"module_depth": 2})
    boxes = re.findall(r"^\s*(m\d+) \[.*shape=box3d.*label=<<B>([^<]*)</B>", collapsed, re.M)
    assert sorted(name for _, name in boxes) == ["model.body", "model.head"]
    assert "model.body.0.weight" not in collapsed
    body = next(b for b, name in boxes if name == "model.body")
    head = next(b for b, name in boxes if name == "model.head")
    assert re.search(rf"^\s*{body} -> {head} ", collapsed, re.M)  # the body's output feeds the head


def test_svg_dot_binary_output_for_png_and_pdf():
    if shutil.which("dot") is None:
        pytest.fail("Graphviz's dot is not installed; `make test` installs it (apt-get install graphviz)")
    capture = _load("no_grad")
    assert render(capture, "png", {}).startswith(b"\x89PNG")
    assert render(capture, "pdf", {}).startswith(b"%PDF")
    out = subprocess.run(["dot", "-Tcanon"], input=render(capture, "dot", {}), capture_output=True, check=True)
    assert b"digraph" in out.stdout
