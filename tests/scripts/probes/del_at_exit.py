"""Probe: __del__ of objects in a reference cycle still alive at exit runs (a "flush on delete")."""


class Flusher:
    def __init__(self):
        self.me = self  # a cycle: only the cyclic collector frees it

    def __del__(self):
        print("flushed", flush=True)


keep = Flusher()
print("made", flush=True)
