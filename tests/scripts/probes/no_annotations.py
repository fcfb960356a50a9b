"""Probe: the script's module namespace without any annotation of its own (python's __main__ still
has an empty __annotations__)."""

print(__annotations__, [k for k in globals() if k.startswith("__")])
