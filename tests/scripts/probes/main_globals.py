"""Probe: what the script's module namespace holds (names, __builtins__'s type, spec/loader/cached)."""
count: int = 3
print(sorted(globals()))
print(type(__builtins__).__name__, __spec__, type(__loader__).__name__, __cached__, __annotations__)
