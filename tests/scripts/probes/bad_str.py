"""Probe: an exception whose __str__ raises is reported as python reports it."""


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no str for you")


print("raising", flush=True)
raise Unprintable()
