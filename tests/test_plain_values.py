"""Which bindings record/plain_values.py proves plain (their binding check is left out), checked on
small sources (torch-free) and, at run time, on realistic scripts: every binding it proves must hold
something the binding hook would not name (not a tensor, a module or an optimizer)."""

import ast
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import SCRIPTS
from gradscope.record.plain_values import provable_bindings


def proven(source: str) -> set[tuple[int, str]]:
    """(line, name) of each proven binding."""
    tree = ast.parse(textwrap.dedent(source))
    ids = provable_bindings(tree)
    return {(node.lineno, name) for node in ast.walk(tree) for (i, name) in ids if id(node) == i}


def test_a_loop_of_integer_arithmetic_is_proven_whole():
    assert proven("""
        total = 0
        for i in range(n):
            a = i * 2
            total += a
    """) == {(2, "total"), (3, "i"), (4, "a"), (5, "total")}


def test_literals_displays_and_trusted_builtins():
    got = proven("""
        def f(x, ys, a, b):
            s = f"{x}"
            xs = [t for t in ys]
            d = {}
            n = len(xs)
            flag = not x
            k = n + 1 if n else 0
            y = x * 2
            z = a < b
            t = make()
    """)
    assert {name for _, name in got} == {"s", "xs", "d", "n", "flag", "k"}  # y, z, t could be tensors


def test_a_builtin_the_file_rebinds_is_not_trusted():
    assert proven("""
        from helpers import range
        for i in range(3):
            j = i
    """) == set()
    assert proven("""
        n = len(x)
        def len(v):
            return v
    """) == set()
    assert proven("from m import *\nn = len(x)\n") == set()


def test_module_level_forgets_what_user_code_may_rebind():
    got = proven("""
        n = 0
        step()
        m = n + 1
        k = 0
        q = k + 1
    """)
    assert got == {(2, "n"), (5, "k"), (6, "q")}  # m: step() may have rebound the global n


def test_a_function_keeps_its_own_locals_through_calls_but_not_shared_ones():
    got = proven("""
        def f():
            n = 0
            step()
            m = n + 1
            s = 0
            def g():
                nonlocal s
                s = make()
            g()
            r = s + 1
            return m, r
    """)
    assert (5, "m") in got and (3, "n") in got and (7, "s") not in got and (11, "r") not in got


def test_loops_carry_only_what_every_path_back_keeps():
    got = proven("""
        def f(items):
            total = 0
            bad = 0
            for i in range(9):
                total += i
                if i:
                    bad = make()
                    continue
                bad += 1
            for x in items:
                total += 1
            return total, bad
    """)
    assert (6, "total") in got and (12, "total") in got
    assert (10, "bad") not in got  # `bad` may hold make()'s value when the loop comes round


def test_module_level_loops_over_other_iterators_forget():
    got = proven("""
        total = 0
        for x in items:
            total += 1
        for i, x in enumerate(items):
            j = i
    """)
    assert (4, "total") not in got and (5, "i") in got and (6, "j") in got and (5, "x") not in got


def test_try_with_and_walrus_are_not_trusted():
    got = proven("""
        def f():
            n = 0
            try:
                m = n + 1
            except ValueError:
                pass
            k = n + 1
            with lock:
                w = 1
            v = n + 1
            if (n := make()):
                pass
            u = n + 1
            return k, v, u
    """)
    assert (5, "m") not in got and (8, "k") not in got and (10, "w") in got
    assert (11, "v") not in got and (14, "u") not in got  # an exception swallowed by `with` skips the rest


AUDITED = ["plain_loop.py", "realistic_bptt.py", "rnn_unrolled.py", "health_exploding_rnn.py",
           "realistic_gan.py", "models/lstm_seq2seq.py"]


def test_every_proven_binding_in_realistic_scripts_holds_nothing_gradscope_names():
    """Runs each script with a check after every proven binding (tests/plain_audit.py)."""
    def audit(script):
        done = subprocess.run([sys.executable, str(SCRIPTS.parent / "plain_audit.py"), str(SCRIPTS / script)],
                              cwd=SCRIPTS.parent, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        line = done.stdout.strip().splitlines()[-1]
        assert line.startswith("AUDIT "), done.stdout[-500:]
        checked, wrong = line.split(" ", 2)[1:]
        return script, int(checked), wrong

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(audit, AUDITED))
    assert [(s, wrong) for s, _, wrong in results if wrong != "[]"] == []
    assert sum(checked for _, checked, _ in results) > 5000  # the proofs are exercised, not vacuous
