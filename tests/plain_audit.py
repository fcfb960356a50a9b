"""Runs a script as `__main__` with a check after every binding that record/plain_values.py proves
plain: the value must not be a tensor, a module or an optimizer (what the binding hook would name).
Prints `AUDIT <checked> <wrong>` at exit. Used by tests/test_plain_values.py."""

import ast
import atexit
import builtins
import os
import sys

import torch

from gradscope.record.plain_values import provable_bindings

BINDABLE = (torch.Tensor, torch.nn.Module, torch.optim.Optimizer)
counts = {"checked": 0, "wrong": []}


def audit(value, name, line):
    counts["checked"] += 1
    if isinstance(value, BINDABLE):
        counts["wrong"].append((name, line, type(value).__name__))


class _Audit(ast.NodeTransformer):
    def __init__(self, proven):
        self.proven = proven

    def _after(self, stmt, names):
        calls = [ast.copy_location(ast.Expr(ast.Call(ast.Name("__plain_audit__", ast.Load()),
                                                     [ast.Name(n, ast.Load()), ast.Constant(n),
                                                      ast.Constant(stmt.lineno)], [])), stmt)
                 for n in names if (id(stmt), n) in self.proven]
        return calls

    def generic_visit(self, node):
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            block = getattr(node, field, None)
            if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                out = []
                for stmt in block:
                    out.append(stmt)
                    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                        out += self._after(stmt, [t.id for t in targets if isinstance(t, ast.Name)])
                    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
                        stmt.body[0:0] = self._after(stmt, [n.id for n in ast.walk(stmt.target)
                                                            if isinstance(n, ast.Name)])
                setattr(node, field, out)
        return node


def main():
    path = os.path.abspath(sys.argv[1])
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(path)
    tree = ast.parse(open(path).read(), path)
    tree = ast.fix_missing_locations(_Audit(provable_bindings(tree)).visit(tree))
    builtins.__plain_audit__ = audit
    atexit.register(lambda: print(f"AUDIT {counts['checked']} {counts['wrong']}", flush=True))
    namespace = {"__name__": "__main__", "__file__": path, "__builtins__": builtins}
    exec(compile(tree, path, "exec"), namespace)


main()
