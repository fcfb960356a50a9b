"""Text from the script or a capture made safe for a terminal: control characters are shown, not obeyed.

A module name, a Function's class name or an exception message can hold `\x1b]0;...` (retitles the
terminal) or `\x1b[2J` (clears it); rich passes ESC through. Everything the terminal report prints goes
through `printable` (one string) or `for_terminal` (a whole capture, for the tree and the findings).
"""

from __future__ import annotations

import dataclasses
import re

import msgspec

from gradscope.capture import Capture

# C0 and C1 controls, DEL, and the bidirectional overrides and isolates (which reorder what is shown).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _show(ch: str) -> str:
    if ch in _SHORT:
        return _SHORT[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character written out as an escape (`\\x1b`, `\\n`, `\\u202e`)."""
    return _CONTROLS.sub(lambda m: _show(m.group()), text)


def printable_finding(finding):
    """A copy of a finding (a dataclass) whose texts are `printable`: title, message, fix, names."""
    changes = {}
    for f in dataclasses.fields(finding):
        value = getattr(finding, f.name)
        if isinstance(value, str):
            changes[f.name] = printable(value)
        elif isinstance(value, list):
            changes[f.name] = [printable(v) if isinstance(v, str) else v for v in value]
    return dataclasses.replace(finding, **changes)


# The same characters inside msgspec's JSON: an escaped backslash (kept as it is, so that `\\u001b`
# written by the user stays text), a \uXXXX or short escape of a control, or the raw UTF-8 of DEL,
# a C1 control or a bidi control.
_JSON_CONTROLS = re.compile(rb'\\\\|\\u00([01][0-9a-fA-F]|7[fF])|\\([bfnrt])|\x7f|\xc2[\x80-\x9f]'
                            rb'|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]')
_JSON_SHORT = {b"b": 0x08, b"f": 0x0C, b"n": 0x0A, b"r": 0x0D, b"t": 0x09}


def _json_show(match: re.Match) -> bytes:
    text = match.group()
    if text == b"\\\\":
        return text
    if match.group(1) is not None:
        ch = chr(int(match.group(1), 16))
    elif match.group(2) is not None:
        ch = chr(_JSON_SHORT[match.group(2)])
    else:
        ch = text.decode("utf-8")
    return _show(ch).replace("\\", "\\\\").encode("ascii")


def for_terminal(capture: Capture) -> Capture:
    """A copy of `capture` whose every string is `printable`; the original (for files) is untouched."""
    data = msgspec.json.encode(capture)
    escaped = _JSON_CONTROLS.sub(_json_show, data)
    if escaped == data:
        return capture
    return Capture.loads(escaped)
