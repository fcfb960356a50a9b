"""Time the SVG of an RNNCell (hidden 32) unrolled 5,000 steps: `python tests/scripts/time_rnn_svg.py [STEPS]`.

Prints three wall-clock numbers: the whole `gradscope trace -o rnn.svg` run (script + recording +
picture), the plain script without gradscope, and `gradscope render` of the SVG from a saved capture.
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
steps = sys.argv[1] if len(sys.argv) > 1 else "5000"
script = HERE / "rnn_unrolled.py"


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


with tempfile.TemporaryDirectory() as tmp:
    svg, capture = Path(tmp) / "rnn.svg", Path(tmp) / "rnn.json"
    gradscope = [sys.executable, "-m", "gradscope"]
    traced = timed(gradscope + ["trace", "--quiet", "-o", str(svg), str(script), steps])
    plain = timed([sys.executable, str(script), steps])
    timed(gradscope + ["trace", "--quiet", "--json", str(capture), str(script), steps])
    rendered = timed(gradscope + ["render", str(capture), "-o", str(Path(tmp) / "again.svg")])
    folded = f"×{steps}" in svg.read_text()
    print(f"steps {steps}: trace + SVG {traced:.1f} s (plain script {plain:.1f} s); "
          f"render SVG from capture {rendered:.1f} s; folded into one step ×{steps}: {folded}")
