"""The binding rewrite (record/names.py) keeps what the code does, and gives torch.compile the
function's own body: checked by running rewritten and plain code side by side (no torch needed)."""

import builtins

import pytest

from gradscope.record import names

SOURCE = '''
class Box:
    def __init__(self, n):
        self.n = n

counter = Box(0)

def bump(n):
    """Docstring stays __doc__."""
    global counter
    for i in range(n):
        if i % 2:
            global_total = i
        counter = Box(counter.n + 1)
    return counter.n

def outer():
    seen = Box(0)
    def inner(v):
        nonlocal seen
        try:
            seen = Box(seen.n + v)
        except TypeError:
            nonlocal_never = 1
        return seen.n
    inner(1)
    return inner(2)

def no_assignment(x):
    return x * 2

class Holder:
    kind = "box"
    def size(self):
        total = Box(len(self.kind))
        return total.n

result = (bump(3), outer(), no_assignment(4), Holder().size(), bump.__doc__)
'''


@pytest.fixture
def hooks():
    seen, compiling = [], [False]

    def bind(value, name, line, scope):
        seen.append((name, scope))

    saved = {n: getattr(builtins, n, None) for n in (names.HOOK_NAME, names.COMPILING_NAME)}
    names.install_hook(bind, lambda: compiling[0])
    yield seen, compiling
    names.remove_hook()
    for n, value in saved.items():
        setattr(builtins, n, value) if value is not None else delattr(builtins, n)


def _run(code) -> dict:
    namespace = {"__name__": "probe"}
    exec(code, namespace)
    return namespace


def _rewritten():
    failures = []
    code = names.compile_user_source(SOURCE, "probe.py", failures.append)
    assert failures == []
    return code


def test_rewritten_code_does_what_the_plain_code_does(hooks):
    seen, _ = hooks
    plain = _run(compile(SOURCE, "probe.py", "exec"))
    rewritten = _run(_rewritten())
    assert rewritten["result"] == plain["result"] == (3, 3, 8, 3, "Docstring stays __doc__.")
    assert ("counter", "bump") in seen and ("seen", "outer.inner") in seen and ("total", "Holder.size") in seen


def test_functions_with_checks_run_their_original_body_while_compiling(hooks):
    seen, compiling = hooks
    namespace = _run(_rewritten())
    seen.clear()
    compiling[0] = True
    assert namespace["bump"](2) == 5 and namespace["outer"]() == 3
    assert seen == []  # the bodies torch.compile would trace hold no check
    compiling[0] = False
    namespace["bump"](1)
    assert ("counter", "bump") in seen


def test_only_functions_with_checks_get_the_switch():
    code = _rewritten()
    functions = {c.co_name: c for c in code.co_consts if hasattr(c, "co_name")}
    assert names.COMPILING_NAME in functions["bump"].co_names
    assert names.COMPILING_NAME not in functions["no_assignment"].co_names
    assert names.COMPILING_NAME not in code.co_names  # module and class bodies: dynamo never traces them
