"""`gradscope render` and `trace -o` for every picture format, end to end in subprocesses."""

from __future__ import annotations

import json
import re
import textwrap

from conftest import ROOT, SAMPLES, run_gradscope, run_python

DATA = ROOT / "tests" / "data"


def test_render_all_formats_without_torch(tmp_path):
    """torch is made unimportable; every format still renders from the saved capture."""
    capture = DATA / "sample_detach.json"
    outs = {fmt: tmp_path / f"g.{fmt}" for fmt in ("dot", "svg", "png", "pdf", "html", "json", "txt")}
    code = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None
        sys.argv = ["gradscope", "render", {str(capture)!r}] + sum((["-o", p] for p in {[str(p) for p in outs.values()]!r}), [])
        from gradscope.cli import main
        try:
            main()
        finally:
            assert sys.modules["torch"] is None
    """)
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert outs["dot"].read_text().startswith("digraph gradscope {")
    assert outs["svg"].read_bytes().startswith(b"<?xml") and b"</svg>" in outs["svg"].read_bytes()
    assert outs["png"].read_bytes().startswith(b"\x89PNG")
    assert outs["pdf"].read_bytes().startswith(b"%PDF")
    assert outs["html"].read_text().startswith("<!DOCTYPE html>")
    assert json.loads(outs["json"].read_text()) == json.loads(capture.read_text())
    for fmt in ("dot", "svg", "png", "pdf", "html"):
        assert f"Wrote {fmt.upper()} to {outs[fmt]}" in proc.stderr


def test_render_dot_to_stdout_and_format_override(tmp_path):
    proc = run_gradscope("render", DATA / "sample_no_grad.json", "-o", "-", "--format", "dot")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("digraph gradscope {") and proc.stdout.rstrip().endswith("}")
    proc = run_gradscope("render", DATA / "sample_training_loop.json", "-o", "-", "--format", "dot",
                         "--module-depth", "2", "--saved")
    assert proc.returncode == 0, proc.stderr
    assert "shape=box3d" in proc.stdout and "saved " in proc.stdout and "nodes elided" not in proc.stdout
    proc = run_gradscope("render", DATA / "sample_training_loop.json", "-o", "-", "--format", "dot",
                         "--max-nodes", "3")
    assert "nodes elided (--max-nodes 3)" in proc.stdout
    out = tmp_path / "picture.out"
    proc = run_gradscope("render", DATA / "sample_no_grad.json", "-o", out, "--format", "svg")
    assert proc.returncode == 0 and out.read_bytes().startswith(b"<?xml")


def test_missing_dot_binary(tmp_path):
    """No `dot` on PATH: SVG fails with one line saying how to install Graphviz; .dot/.json still work."""
    env = {"PATH": str(tmp_path / "empty-bin")}
    capture = DATA / "sample_detach.json"
    for fmt in ("svg", "png", "pdf", "html"):
        proc = run_gradscope("render", capture, "-o", tmp_path / f"g.{fmt}", env=env)
        assert proc.returncode != 0
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("gradscope: error:"), proc.stderr
        assert "apt-get install graphviz" in lines[0] and "Traceback" not in proc.stderr
        assert not (tmp_path / f"g.{fmt}").exists()
    proc = run_gradscope("render", capture, "-o", tmp_path / "g.dot", "-o", tmp_path / "g.json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert json.loads((tmp_path / "g.json").read_text()) == json.loads(capture.read_text())  # as read, version too


def test_trace_writes_several_pictures(tmp_path):
    outs = [tmp_path / name for name in ("graph.svg", "graph.dot", "graph.html", "graph.png")]
    args = []
    for out in outs:
        args += ["-o", out]
    proc = run_gradscope("trace", "--quiet", "--json", tmp_path / "c.json", *args, SAMPLES / "no_grad.py")
    assert proc.returncode == 0, proc.stderr
    assert "tensor([" in proc.stdout  # the script's own output is untouched
    svg = outs[0].read_text()
    assert "<svg" in svg and "y2" in svg and "no_grad" in svg
    # the same picture comes back from the saved capture, without re-running the script
    again = run_gradscope("render", tmp_path / "c.json", "-o", "-", "--format", "dot")
    assert again.stdout == outs[1].read_text()
    assert re.sub(r"<script.*?</script>", "", outs[2].read_text(), flags=re.S).count("<svg") == 1  # one picture
    assert outs[3].read_bytes().startswith(b"\x89PNG")


def test_repr_svg_for_notebooks():
    from gradscope.api import TraceSession
    from gradscope.capture import Capture

    session = TraceSession()
    session.capture = Capture.loads((DATA / "sample_detach.json").read_text())
    svg = session._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg and "x1" in svg


def test_repr_svg_without_graphviz_falls_back(monkeypatch, tmp_path):
    from gradscope.api import TraceSession
    from gradscope.capture import Capture

    monkeypatch.setenv("PATH", str(tmp_path))
    session = TraceSession()
    session.capture = Capture.loads((DATA / "sample_detach.json").read_text())
    assert session._repr_svg_() is None
