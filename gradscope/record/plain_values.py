"""Which name bindings in the user's code provably hold a plain Python value (a number, a str, a list...),
so that the binding check after them can be left out (record/names.py).

The binding hook only names tensors, modules and optimizers; for any other value it does nothing. A
pure-Python loop such as `for i in range(n): a = i * 2; total += a` binds only integers, and proving
that from the source saves its checks (issue 11). The proof is conservative, read from the AST:

- a value is plain when it is a literal, a display or comprehension (list, dict, set, tuple,
  generator), an f-string, `not x`, arithmetic or comparison of known numbers, a call of a builtin
  whose result is never a tensor (`len`, `int`, `str`, `range`...), or a name known to hold one;
- a `for` target over `range(...)` is a number, as is the index of `enumerate(...)`;
- a name stays known until something may rebind it. In a function that is a binding in the
  function itself: names that a nested scope sees, and `global` / `nonlocal` names, are never known.
  At module and class level any statement that may run user code (a call, an attribute, an operator
  on values not known to be numbers...) forgets everything, since that code may rebind a global;
- loops: a name known before a loop stays known in its body only if the body keeps it known on every
  path back to the loop's head (a fixed point), and after the loop only if every way out keeps it;
  after a `try`, a `with` or a `match`, nothing is known.

Two assumptions: the builtins the file uses by name (`range`, `len`...) are python's own (a file
that binds such a name anywhere, or star-imports, does not get them trusted), and the `__index__`
that `range()` may call on its arguments rebinds no global. Were either broken at run time, the cost
is a missing variable name, never a change to what the script does.
"""

from __future__ import annotations

import ast

NUMBER, PLAIN = "number", "plain"  # what a name is known to hold (a number is plain too)

# builtins whose result is never a tensor, module or optimizer, whatever their arguments
_TRUSTED_CALLS = {
    "len": NUMBER, "int": NUMBER, "float": NUMBER, "bool": NUMBER, "id": NUMBER, "hash": NUMBER, "ord": NUMBER,
    "isinstance": NUMBER, "issubclass": NUMBER, "hasattr": NUMBER, "callable": NUMBER,
    "str": PLAIN, "repr": PLAIN, "chr": PLAIN, "format": PLAIN, "range": PLAIN, "enumerate": PLAIN, "zip": PLAIN,
    "list": PLAIN, "tuple": PLAIN, "dict": PLAIN, "set": PLAIN, "frozenset": PLAIN, "sorted": PLAIN,
}
_NUMBER_TYPES = (int, float, complex, bool)
_DISPLAYS = (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
             ast.Lambda, ast.JoinedStr)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp, ast.SetComp,
           ast.DictComp, ast.GeneratorExp)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_NAME_TARGET = (ast.Name, ast.Tuple, ast.List, ast.Starred, ast.Store)
_FIXED_POINT_PASSES = 4  # a loop's carried names settle in one or two passes; deeper nests carry nothing


def provable_bindings(tree: ast.Module) -> set[tuple[int, str]]:
    """`(id(statement), name)` for each binding of `name` by that statement (an assignment or a `for`)
    that provably holds a plain value."""
    analysis = _Analysis(_trusted_builtins(tree))
    analysis.scope(tree.body, shared=None)
    return analysis.proven


def _trusted_builtins(tree: ast.Module) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (*_DEFS,)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    return set()
                bound.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound.update(node.names)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            bound.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            bound.add(node.rest)
    return set(_TRUSTED_CALLS) - bound


def _shared_names(body: list) -> set[str]:
    """In a function: names that a nested scope may see or rebind, and its global / nonlocal names."""
    shared: set[str] = set()

    def visit(node, nested: bool):
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            shared.update(node.names)
        elif nested and isinstance(node, ast.Name):
            shared.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, nested or isinstance(child, _SCOPES))

    for stmt in body:
        visit(stmt, isinstance(stmt, _SCOPES))
    return shared


def _walrus_targets(node) -> list[str]:
    return [n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr)]


class _Analysis:
    def __init__(self, trusted: set[str]):
        self.trusted = trusted
        self.proven: set[tuple[int, str]] = set()
        self.recording = True
        self.shared: set[str] | None = None  # None: module or class level (forget on user code)
        self.continues: list[list[dict]] = []  # per open loop: what is known at each `continue`
        self.breaks: list[list[dict]] = []  # per open loop: what is known at each `break`

    # -- scopes ----------------------------------------------------------------------------------
    def scope(self, body: list, shared: set[str] | None) -> None:
        saved = self.shared, self.continues, self.breaks
        self.shared, self.continues, self.breaks = shared, [], []
        self.block(body, {})
        self.shared, self.continues, self.breaks = saved

    # -- what an expression holds, and whether evaluating it may run user code ---------------------
    def kind(self, node, known: dict) -> str | None:
        if isinstance(node, ast.Constant):
            return NUMBER if type(node.value) in _NUMBER_TYPES else PLAIN
        if isinstance(node, ast.Name):
            return known.get(node.id)
        if isinstance(node, _DISPLAYS):
            return PLAIN
        if isinstance(node, ast.UnaryOp):
            return NUMBER if isinstance(node.op, ast.Not) or self.kind(node.operand, known) == NUMBER else None
        if isinstance(node, ast.BinOp):
            numbers = self.kind(node.left, known) == self.kind(node.right, known) == NUMBER
            return NUMBER if numbers and not isinstance(node.op, ast.MatMult) else None
        if isinstance(node, ast.Compare):
            return NUMBER if all(self.kind(v, known) == NUMBER for v in [node.left, *node.comparators]) else None
        if isinstance(node, ast.BoolOp):
            kinds = {self.kind(v, known) for v in node.values}
            return None if None in kinds else (NUMBER if kinds == {NUMBER} else PLAIN)
        if isinstance(node, ast.IfExp):
            kinds = {self.kind(node.body, known), self.kind(node.orelse, known)}
            return None if None in kinds else (NUMBER if kinds == {NUMBER} else PLAIN)
        if isinstance(node, ast.NamedExpr):
            return self.kind(node.value, known)
        if self._trusted_call(node):
            return _TRUSTED_CALLS[node.func.id]
        return None

    def _trusted_call(self, node) -> bool:
        return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.trusted

    def pure(self, node, known: dict) -> bool:
        """Evaluating `node` runs no user code (so it cannot rebind a global)."""
        if node is None or isinstance(node, (ast.Constant, ast.Name)):
            return True
        if isinstance(node, (ast.Tuple, ast.List)):
            return all(self.pure(e, known) for e in node.elts)
        if isinstance(node, (ast.UnaryOp, ast.BinOp, ast.Compare, ast.BoolOp)):
            operands = [child for child in ast.iter_child_nodes(node) if isinstance(child, ast.expr)]
            return all(self.kind(v, known) == NUMBER for v in operands)
        if isinstance(node, ast.NamedExpr):
            return self.pure(node.value, known)
        if self._iterates_range(node):
            return all(self.pure(a, known) for a in node.args)
        return False

    def _iterates_range(self, node) -> bool:
        """`range(...)`: made, and iterated, by python alone (but for its arguments' `__index__`)."""
        return self._trusted_call(node) and node.func.id == "range" and not node.keywords

    # -- statements ------------------------------------------------------------------------------
    def forget(self, known: dict) -> None:
        """User code may have run: at module or class level it may have rebound any name."""
        if self.shared is None:
            known.clear()

    def bind(self, stmt, name: str, kind: str | None, known: dict) -> None:
        if kind is not None and (self.shared is None or name not in self.shared):
            known[name] = kind
            if self.recording:
                self.proven.add((id(stmt), name))
        else:
            known.pop(name, None)

    def block(self, body: list, known: dict) -> dict | None:
        """Analyse statements in order from `known` (updated in place); what is known at the end, or
        None when the end is never reached (return, raise, break, continue)."""
        for stmt in body:
            if self.statement(stmt, known) is None:
                return None
        return known

    def statement(self, stmt, known: dict):  # noqa: C901 - one branch per kind of statement
        for name in _walrus_targets(stmt) if not isinstance(stmt, _DEFS) else ():
            known.pop(name, None)
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            value = stmt.value
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            annotation_pure = not isinstance(stmt, ast.AnnAssign) or isinstance(stmt.annotation, (ast.Name,
                                                                                               ast.Constant))
            kind = self.kind(value, known) if value is not None else None
            if not (self.pure(value, known) and annotation_pure and all(isinstance(t, ast.Name) for t in targets)):
                self.forget(known)
            for target in targets:
                if isinstance(target, ast.Name):
                    if value is not None:
                        self.bind(stmt, target.id, kind, known)
                else:
                    for node in ast.walk(target):
                        if isinstance(node, ast.Name):
                            known.pop(node.id, None)
        elif isinstance(stmt, ast.AugAssign):
            target = stmt.target
            numbers = (isinstance(target, ast.Name) and known.get(target.id) == NUMBER
                       and self.kind(stmt.value, known) == NUMBER and not isinstance(stmt.op, ast.MatMult))
            if not (numbers and self.pure(stmt.value, known)):
                self.forget(known)
            if isinstance(target, ast.Name):
                self.bind(stmt, target.id, NUMBER if numbers else None, known)
        elif isinstance(stmt, (ast.For, ast.AsyncFor, ast.While)):
            self.loop(stmt, known)
        elif isinstance(stmt, ast.If):
            if not self.pure(stmt.test, known):
                self.forget(known)
            ends = [self.block(stmt.body, dict(known)), self.block(stmt.orelse, dict(known))]
            reached = [end for end in ends if end is not None]
            if not reached:
                return None
            merged = {n: k for n, k in reached[0].items() if all(end.get(n) == k for end in reached[1:])}
            known.clear()
            known.update(merged)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            self.forget(known)
            for item in stmt.items:
                for node in ast.walk(item.optional_vars) if item.optional_vars is not None else ():
                    if isinstance(node, ast.Name):
                        known.pop(node.id, None)
            self.block(stmt.body, known)
            known.clear()  # a context manager may swallow an exception raised anywhere in the body
        elif isinstance(stmt, _DEFS):
            self.scope(stmt.body, _shared_names(stmt.body) if not isinstance(stmt, ast.ClassDef) else None)
            self.forget(known)  # decorators, defaults, bases
            known.pop(stmt.name, None)
        elif isinstance(stmt, (ast.Return, ast.Raise)):
            return None
        elif isinstance(stmt, ast.Break):
            if self.breaks:
                self.breaks[-1].append(dict(known))
            return None
        elif isinstance(stmt, ast.Continue):
            if self.continues:
                self.continues[-1].append(dict(known))
            return None
        elif isinstance(stmt, (ast.Pass, ast.Global, ast.Nonlocal)):
            pass
        elif isinstance(stmt, ast.Expr) and self.pure(stmt.value, known):
            pass
        else:  # try, match, del, import, assert, an expression that may run user code...
            for field in ("body", "orelse", "finalbody"):
                self.block(getattr(stmt, field, None) or [], {})
            for part in [*getattr(stmt, "handlers", ()), *getattr(stmt, "cases", ())]:
                self.block(part.body, {})
            self.forget(known)
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                    known.pop(node.id, None)
            if isinstance(stmt, (ast.Try, ast.Match)) or type(stmt).__name__ == "TryStar":
                known.clear()
        return known

    def loop(self, stmt, known: dict) -> None:
        """A `for` or `while`: find what stays known at the head of every iteration, then analyse the
        body from there (recording), and the `else` from the head; after the loop, what every way out
        (the head, each `break`) keeps."""
        header = stmt.iter if not isinstance(stmt, ast.While) else stmt.test
        if not self.pure(header, known):
            self.forget(known)
        targets: dict[str, str | None] = {}
        if not isinstance(stmt, ast.While):
            for node in ast.walk(stmt.target):
                if isinstance(node, ast.Name):
                    targets[node.id] = None
            if self._trusted_call(header) and header.func.id in ("range", "enumerate"):
                first = stmt.target if header.func.id == "range" else (
                    stmt.target.elts[0] if isinstance(stmt.target, ast.Tuple) and stmt.target.elts else None)
                if isinstance(first, ast.Name):
                    targets[first.id] = NUMBER
        carried = {n: k for n, k in known.items() if n not in targets}
        recording, self.recording = self.recording, False
        for _ in range(_FIXED_POINT_PASSES):
            start = self._loop_start(stmt, carried, targets)
            self.continues.append([])
            self.breaks.append([])
            end = self.block(stmt.body, start)
            self.breaks.pop()
            backs = self.continues.pop() + ([end] if end is not None else [])
            kept = {n: k for n, k in carried.items() if all(back.get(n) == k for back in backs)}
            if kept == carried:
                break
            carried = kept
        else:
            carried = {}  # not settled: carry nothing (always true)
        self.recording = recording
        self.continues.append([])
        self.breaks.append([])
        self.block(stmt.body, self._loop_start(stmt, carried, targets))
        self.continues.pop()
        breaks = self.breaks.pop()
        # The loop ends at its head (what was carried; the targets may be unbound or stale) or at a break.
        head = self._loop_start(stmt, carried, {})
        for name in targets:
            head.pop(name, None)
        end = self.block(stmt.orelse, head)
        exits = breaks + ([end] if end is not None else [])
        known.clear()
        if exits:
            known.update({n: k for n, k in exits[0].items() if all(e.get(n) == k for e in exits[1:])})

    def _loop_start(self, stmt, carried: dict, targets: dict) -> dict:
        """What is known when the body starts: the carried names, unless the iteration itself may run
        user code (a `while` test, an iterator other than range's, a target that is not a name)."""
        start = dict(carried)
        if isinstance(stmt, ast.While):
            if not self.pure(stmt.test, start):
                self.forget(start)
        elif not self._iterates_range(stmt.iter) or not all(isinstance(n, _NAME_TARGET)
                                                           for n in ast.walk(stmt.target)):
            self.forget(start)
        for name, kind in targets.items():
            self.bind(stmt, name, kind, start)
        return start
