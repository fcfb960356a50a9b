"""Outputs are the user's files: written atomically only when they are regular files, through
symlinks, FIFOs and devices as the shell's `>` would, with the umask's mode (or the existing file's),
never over an input, and every path checked before the script runs."""

from __future__ import annotations

import os
import stat
import threading

import pytest

from conftest import SCRIPTS, run_gradscope
from gradscope import output
from gradscope.capture import Capture
from gradscope.errors import UsageError


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test (then restore it)."""
    saved = os.umask(0o022)
    os.umask(saved)
    yield lambda mask: os.umask(mask)
    os.umask(saved)


def test_new_files_honour_the_umask_and_existing_files_keep_their_mode(tmp_path, umask):
    umask(0o077)
    output.write_atomically(str(tmp_path / "new.json"), b"{}")
    assert _mode(tmp_path / "new.json") == 0o600  # the capture holds argv (e.g. --api-key=...)
    umask(0o022)
    output.write_atomically(str(tmp_path / "open.json"), b"{}")
    assert _mode(tmp_path / "open.json") == 0o644
    existing = tmp_path / "existing.json"
    existing.write_text("old")
    os.chmod(existing, 0o640)
    output.write_atomically(str(existing), b"new")
    assert existing.read_bytes() == b"new" and _mode(existing) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["existing.json", "new.json", "open.json"]  # no temporary file left


def test_symlinks_are_written_through_and_stay_links(tmp_path):
    target = tmp_path / "real" / "cap.json"
    target.parent.mkdir()
    target.write_text("old")
    os.chmod(target, 0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    output.write_atomically(str(link), b"new")
    assert link.is_symlink() and target.read_bytes() == b"new" and _mode(target) == 0o600
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "real" / "made.json")
    output.write_atomically(str(dangling), b"made")
    assert dangling.is_symlink() and (tmp_path / "real" / "made.json").read_bytes() == b"made"


def test_fifos_and_devices_are_written_in_place(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    reader.start()
    output.write_atomically(str(fifo), b"through the pipe")
    reader.join(timeout=30)
    assert got == [b"through the pipe"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    before = os.stat(os.devnull)
    output.write_atomically(os.devnull, b"gone")
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode) and (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


def test_outputs_are_checked_before_the_script_runs(tmp_path):
    script = SCRIPTS / "exits_3.py"  # would print and exit 3 if it ran
    data = tmp_path / "data.txt"
    data.write_text("the script's input")
    capture = tmp_path / "c.json"
    capture.write_text(Capture(script="s.py").dumps())
    long_name = "a" * 300 + ".svg"
    script_text = script.read_text()
    cases = [  # (argv, words the one-line error must contain)
        (["trace", "--json", script, script], ["refusing to write", "it is an input"]),
        (["trace", "-o", data, script, data], ["refusing to write", "data.txt"]),
        (["trace", "-o", tmp_path / "t.txt", script, f"--config={data}"], None),  # another file: fine
        (["trace", "--json", tmp_path / "x.json", "-o", tmp_path / "x.json", script], ["asked for twice"]),
        (["trace", "-o", tmp_path / long_name, script], ["file name is 304 bytes", "shorter name"]),
        (["render", capture, "-o", capture], ["refusing to write", "it is an input"]),
        (["explain", "--json", capture, capture], ["refusing to write", "it is an input"]),
    ]
    for argv, words in cases:
        proc = run_gradscope(*argv, cwd=tmp_path)
        if words is None:
            assert proc.returncode == 3, proc.stderr
            continue
        assert proc.returncode == 2 and proc.stdout == "", (argv, proc.stdout, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        for word in words:
            assert word in lines[0], (word, lines[0])
    assert data.read_text() == "the script's input" and script.read_text() == script_text
    assert Capture.loads(capture.read_text()).script == "s.py"


def test_check_outputs_allows_stdout_and_new_files(tmp_path):
    output.check_outputs(["-", str(tmp_path / "new.svg"), "-"], [str(SCRIPTS / "exits_3.py")])
    with pytest.raises(UsageError, match="asked for twice"):
        output.check_outputs([str(tmp_path / "a.svg"), str(tmp_path / "." / "a.svg")], [])
