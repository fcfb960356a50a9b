"""Probe: the line events a tracer the script sets (pdb, coverage) sees inside the script's own
function: the same lines, in the same order, as under python."""

import sys

events = []


def tracer(frame, event, arg):
    if frame.f_code.co_name == "step":
        if event == "line":
            events.append(frame.f_lineno)
        return tracer
    return None


def step(values):
    total = 0
    for v in values:
        doubled = v * 2
        total = total + doubled
    return total


sys.settrace(tracer)
result = step([1, 2, 3])
sys.settrace(None)
print(result, events)
