"""`python -m bench.render_time CAPTURE.json OUT.svg`: time reading a saved capture and drawing its
SVG (module depth 2) in one process, the same work torchviz's make_dot + render does, timed alike."""

from __future__ import annotations

import json
import sys
import time

from gradscope.commands import load_capture
from gradscope.output import write_output


def main(capture_path: str, out: str) -> None:
    start = time.perf_counter()
    capture = load_capture(capture_path)
    write_output(capture, out, "svg", {"module_depth": 2})
    print("BENCH " + json.dumps({"render_s": time.perf_counter() - start, "torch_imported": "torch" in sys.modules}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
