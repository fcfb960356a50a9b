"""`python -m bench.load_time CAPTURE.json`: time reading and validating a saved capture (what `render`
and `explain` do first), in a fresh process."""

from __future__ import annotations

import json
import os
import sys
import time

from gradscope.commands import load_capture


def main(capture_path: str) -> None:
    start = time.perf_counter()
    capture = load_capture(capture_path)
    print("BENCH " + json.dumps({"load_s": time.perf_counter() - start, "nodes": len(capture.nodes),
                                 "tensors": len(capture.tensors), "bytes": os.path.getsize(capture_path)}))


if __name__ == "__main__":
    main(sys.argv[1])
