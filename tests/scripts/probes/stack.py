"""Probe: the stack the script sees (inspect, traceback, warnings' stacklevel, the recursion limit)."""

import inspect
import sys
import traceback
import warnings


def recursion_depth():
    reached = 0

    def down(k):
        nonlocal reached
        reached = k
        down(k + 1)

    try:
        down(1)
    except RecursionError:
        pass
    return reached


def warn_the_caller():
    warnings.warn("points at the caller's line", stacklevel=2)


print("frames below the script:", len(inspect.stack()) - 1)
warn_the_caller()
try:
    raise ValueError("caught by the script")
except ValueError:
    traceback.print_exc(file=sys.stdout)
print("recursion depth:", recursion_depth())
