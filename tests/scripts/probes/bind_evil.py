"""Probe: assigning objects whose __class__, __eq__ and __hash__ raise never calls them."""


class Evil:
    @property
    def __class__(self):
        raise RuntimeError("__class__ called")

    def __eq__(self, other):
        raise RuntimeError("__eq__ called")

    def __hash__(self):
        raise RuntimeError("__hash__ called")


e = Evil()
for f in [Evil(), Evil()]:
    g = f
print("assigned", type(e).__name__, type(g).__name__)
