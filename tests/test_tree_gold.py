"""The exact terminal tree for the seed cases (golden files), traced in-process.

To update after an intended change: `UPDATE_GOLD=1 .venv/bin/python -m pytest tests/test_tree_gold.py`,
then read the diff of tests/gold/tree/ before committing it. On a mismatch the actual text is
written to tests/actual/tree/ and the diff is printed.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES

SEED_SAMPLES = ["requires_grad_basics.py", "backward_without_grad.py", "detach.py", "detach_shares_storage.py",
                "gan_detach.py", "no_grad.py", "no_grad_vs_detach.py"]
GOLD = Path(__file__).parent / "gold" / "tree"
ACTUAL = ROOT / "tests" / "actual" / "tree"


def _trace_in_process(sample, capsys):
    from gradscope.api import trace_target
    from gradscope.runner import resolve_script

    result = trace_target(resolve_script(str(SAMPLES / sample)), [])
    capsys.readouterr()  # the sample's own prints and traceback
    return result.capture


@pytest.mark.parametrize("sample", SEED_SAMPLES)
def test_tree_matches_gold(sample, capsys):
    from gradscope.capture import Capture
    from gradscope.render.tree import render_text

    capture = _trace_in_process(sample, capsys)
    text = render_text(capture)
    # the same text from the saved capture, without the script
    assert render_text(Capture.loads(capture.dumps())) == text
    gold = GOLD / (Path(sample).stem + ".txt")
    if os.environ.get("UPDATE_GOLD"):
        gold.write_text(text)
    expected = gold.read_text()
    if text != expected:
        ACTUAL.mkdir(parents=True, exist_ok=True)
        (ACTUAL / gold.name).write_text(text)
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "gold", "actual"))
        pytest.fail(f"tree for {sample} differs from {gold}:\n{diff}")
