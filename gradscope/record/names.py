"""Variable names of the user's code, by rewriting its AST.

After every assignment to a plain name (`x = ...`, `a, b = ...`, `x += ...`, `for x in`, `with ... as x`,
`x: T = ...`) the rewritten code calls a binding hook with the value, the name, the line and the
enclosing function. This names both tensors in `x = x * 2` (a line tracer or a scan of globals at
exit would only see the last) and keeps the user's line numbers, as the code is compiled under the
real file name with the original locations.

Bindings that provably hold a plain value (`for i in range(n)`, `a = i * 2`: record/plain_values.py)
get no check. Elsewhere the hook runs only for values of a type not yet known to be plain (an int, a
list, the script's own classes): the rewritten code checks
`if type(x) not in BUILTIN_PLAIN and type(x) not in PLAIN_TYPES: __gradscope_bind__(x, "x", 3, None)`
inline, with `type` and the sets loaded as constants of the code object (no global lookup), so a
pure-Python loop pays a few bytecodes per assignment, not a call. `type()` never runs the value's
own code (`__class__`, `__eq__`, `__hash__`), unlike `isinstance`. The hook itself is reached
through `builtins`, so the user's globals stay exactly as under plain python.

torch.compile must see the user's own code: dynamo traces a function's bytecode and cannot trace
constants such as `type` or the set (it raises), and it would recompile each time the set grows. So a
function that got checks keeps its original body beside the instrumented one, and runs the original
when `__gradscope_compiling__()` says so: false when run, true while dynamo traces
(record/compile_switch.py). Module and class bodies are never traced by dynamo.
"""

from __future__ import annotations

import ast
import builtins
import copy
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Callable

from gradscope.record.plain_values import provable_bindings

HOOK_NAME = "__gradscope_bind__"
COMPILING_NAME = "__gradscope_compiling__"
_TRACED_LOCAL = "__gradscope_traced__"  # the switch's answer, deleted before either body runs
# Types the hook has found plain (it fills the set; emptied when tracing ends, so that it keeps no
# class, and through its methods no module globals, alive). Rewritten code holds this very set.
class _TypeSet(set):
    """A set that can sit among a code object's constants, which tools such as torch.compile hash:
    hashed by identity. Membership is still set's own (C) lookup."""

    __hash__ = object.__hash__


PLAIN_TYPES: set = _TypeSet()
# Python's own plain types, tested first: membership in a frozenset is C's own lookup, while the set
# above, a subclass (to be hashable), goes through a slot wrapper that costs about as much again.
BUILTIN_PLAIN = frozenset({int, float, complex, bool, str, bytes, type(None), tuple, list, dict, set, range})
# Placeholder constants in the rewritten AST, replaced by `type` and the two sets after compiling.
_TYPE_SLOT = complex(7.0, 1e-300)
_PLAIN_SLOT = complex(7.0, 2e-300)
_BUILTIN_SLOT = complex(7.0, 3e-300)
_SLOTS = {_TYPE_SLOT: type, _PLAIN_SLOT: PLAIN_TYPES, _BUILTIN_SLOT: BUILTIN_PLAIN}


class _BindingInserter(ast.NodeTransformer):
    def __init__(self, proven: set[tuple[int, str]]) -> None:
        self.proven = proven  # (id(statement), name): bindings that hold a plain value (no check needed)
        self.scopes: list[str] = []
        self.checks: list[int] = [0]  # checks inserted in each open scope's own statements

    # -- scopes ------------------------------------------------------------------------------
    def _visit_scope(self, node):
        self.scopes.append(node.name)
        self.checks.append(0)
        self.generic_visit(node)
        self.scopes.pop()
        return self.checks.pop()

    def visit_ClassDef(self, node):
        self._visit_scope(node)
        return node

    def visit_FunctionDef(self, node):
        original = copy.deepcopy(node.body)
        if self._visit_scope(node):
            node.body = _switch_on_compiling(original, node.body)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        return node  # no statements inside

    # -- statements that bind names ----------------------------------------------------------
    def _with_bindings(self, stmt, targets):
        names = self._unproven(stmt, targets)
        if not names:
            return stmt
        return [stmt] + [self._bind_call(name, stmt) for name in names]

    def visit_Assign(self, node):
        self.generic_visit(node)
        return self._with_bindings(node, node.targets)

    def visit_AnnAssign(self, node):
        self.generic_visit(node)
        if node.value is None:
            return node
        return self._with_bindings(node, [node.target])

    def visit_AugAssign(self, node):
        self.generic_visit(node)
        return self._with_bindings(node, [node.target])

    def _prepend_to_body(self, node, targets):
        names = self._unproven(node, targets)
        if names:
            node.body[0:0] = [self._bind_call(name, node) for name in names]
        return node

    def visit_For(self, node):
        self.generic_visit(node)
        return self._prepend_to_body(node, [node.target])

    visit_AsyncFor = visit_For

    def visit_With(self, node):
        self.generic_visit(node)
        return self._prepend_to_body(node, [item.optional_vars for item in node.items if item.optional_vars])

    visit_AsyncWith = visit_With

    def _unproven(self, stmt, targets) -> list[str]:
        return [name for name in _target_names(targets) if (id(stmt), name) not in self.proven]

    def _bind_call(self, name: str, located: ast.AST) -> ast.stmt:
        self.checks[-1] += 1
        scope = ".".join(self.scopes) if self.scopes else None
        call = ast.Expr(
            ast.Call(
                func=ast.Name(HOOK_NAME, ast.Load()),
                args=[
                    ast.Name(name, ast.Load()),
                    ast.Constant(name),
                    ast.Constant(located.lineno),
                    ast.Constant(scope),
                ],
                keywords=[],
            )
        )
        test = ast.BoolOp(ast.And(), [_type_not_in(name, _BUILTIN_SLOT), _type_not_in(name, _PLAIN_SLOT)])
        return _located(ast.If(test=test, body=[call], orelse=[]), located)  # every part on the binding's line


def _type_not_in(name: str, slot: complex) -> ast.expr:
    value_type = ast.Call(func=ast.Constant(_TYPE_SLOT), args=[ast.Name(name, ast.Load())], keywords=[])
    return ast.Compare(left=value_type, ops=[ast.NotIn()], comparators=[ast.Constant(slot)])


def _switch_on_compiling(original: list, instrumented: list) -> list:
    """`if <compiling>: <original> else: <instrumented>` (see `_ask_switch`), after the docstring (it
    stays `__doc__`) and with the function's `global` / `nonlocal` declarations first (each name may be
    declared once, before its uses: the two bodies would declare it twice)."""
    head = []
    if _is_docstring(original[0]):
        head, original, instrumented = instrumented[:1], original[1:], instrumented[1:]
    if not original:
        return head + instrumented
    declared = _take_declarations(original)
    _take_declarations(instrumented)
    forget = ast.Delete([ast.Name(_TRACED_LOCAL, ast.Del())])
    switch = ast.If(test=ast.Name(_TRACED_LOCAL, ast.Load()), body=[forget, *original],
                    orelse=[copy.deepcopy(forget), *instrumented])
    return head + declared + [_located(_ask_switch(), original[0]), _located(switch, original[0])]


def _located(new: ast.AST, at: ast.AST) -> ast.AST:
    """Give the nodes gradscope made the location of `at` (the first statement of the body): a line
    tracer sees no line python would not show."""
    for node in ast.walk(new):
        if "lineno" in node._attributes and getattr(node, "lineno", None) is None:
            ast.copy_location(node, at)
    return new


def _ask_switch() -> ast.stmt:
    """`__gradscope_traced__ = __gradscope_compiling__()`; on Python 3.11 a C call counts towards the
    recursion limit, so at the limit (where python would still run this frame up to its first call)
    the answer is "not compiling" instead of RecursionError."""
    def assign(value):
        return ast.Assign(targets=[ast.Name(_TRACED_LOCAL, ast.Store())], value=value)

    return ast.Try(body=[assign(ast.Call(func=ast.Name(COMPILING_NAME, ast.Load()), args=[], keywords=[]))],
                   handlers=[ast.ExceptHandler(type=ast.Name("RecursionError", ast.Load()), name=None,
                                               body=[assign(ast.Constant(False))]),
                             # a process without gradscope (the function shipped by value to a worker,
                             # as cloudpickle does): the function's own body
                             ast.ExceptHandler(type=ast.Name("NameError", ast.Load()), name=None,
                                               body=[assign(ast.Constant(True))])],
                   orelse=[], finalbody=[])


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _take_declarations(body: list) -> list:
    """Remove the `global` and `nonlocal` statements of this function (not of functions or classes
    inside it) from `body`, in place; return them merged, one statement per kind."""
    found: dict[type, ast.stmt] = {}

    def strip(statements: list) -> list:
        kept = []
        for stmt in statements:
            if isinstance(stmt, (ast.Global, ast.Nonlocal)):
                merged = found.setdefault(type(stmt), ast.copy_location(type(stmt)(names=[]), stmt))
                merged.names.extend(n for n in stmt.names if n not in merged.names)
                continue
            if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for field in ("body", "orelse", "finalbody"):
                    inner = getattr(stmt, field, None)
                    if isinstance(inner, list) and inner:
                        setattr(stmt, field, strip(inner) or [ast.copy_location(ast.Pass(), stmt)])
                for handler in getattr(stmt, "handlers", ()):
                    handler.body = strip(handler.body) or [ast.copy_location(ast.Pass(), handler)]
                for case in getattr(stmt, "cases", ()):
                    case.body = strip(case.body) or [ast.copy_location(ast.Pass(), case)]
            kept.append(stmt)
        return kept

    body[:] = strip(body)
    return list(found.values())


def _target_names(targets) -> list[str]:
    names: list[str] = []
    stack = list(targets)
    while stack:
        target = stack.pop(0)
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            stack[0:0] = list(target.elts)
        elif isinstance(target, ast.Starred):
            stack.insert(0, target.value)
    return names


def compile_user_source(source: str | bytes, filename: str, note_failure: Callable[[BaseException], None]):
    """Compile user code with binding hooks; fall back to the plain code if rewriting fails, and count
    that failure with `note_failure` (the recorder's): the file's variable names are then missing."""
    tree = ast.parse(source, filename=filename)  # a SyntaxError belongs to the user: let it raise
    try:
        rewritten = ast.fix_missing_locations(_BindingInserter(provable_bindings(tree)).visit(tree))
        with warnings.catch_warnings():  # calling a constant warns at compile time: only ours is hidden
            warnings.filterwarnings("ignore", r"'complex' object is not callable", SyntaxWarning)
            return _fill_slots(compile(rewritten, filename, "exec", dont_inherit=True))
    except Exception as exc:  # noqa: BLE001 - instrumentation must never stop the user's script
        note_failure(exc)
        return compile(source, filename, "exec", dont_inherit=True)


def _fill_slots(code: types.CodeType) -> types.CodeType:
    """Put `type` and `PLAIN_TYPES` in place of their placeholder constants, in nested code too."""
    consts = tuple(
        _fill_slots(c) if isinstance(c, types.CodeType)
        else _SLOTS.get(c, c) if type(c) is complex else c
        for c in code.co_consts
    )
    return code.replace(co_consts=consts)


def install_hook(hook: Callable, compiling: Callable[[], bool]) -> None:
    """`hook(value, name, line, scope)` runs for values whose type is not in `PLAIN_TYPES`;
    `compiling()` is True only while torch.compile traces (see the module docstring)."""
    setattr(builtins, HOOK_NAME, hook)
    setattr(builtins, COMPILING_NAME, compiling)


def remove_hook() -> None:
    # Leave a no-op behind: code compiled with hooks (functions defined by the script, imported user
    # modules) may still run after tracing ends, e.g. in atexit handlers or in a notebook. The
    # compiling switch stays as it is, for the same code compiled by torch later.
    setattr(builtins, HOOK_NAME, _noop)
    PLAIN_TYPES.clear()


def _noop(value, name, line, scope):
    return None


class _RewritingLoader(importlib.machinery.SourceFileLoader):
    """Loads a user module with binding hooks; never uses cached bytecode (it lacks the hooks)."""

    def __init__(self, fullname, path, note_failure):
        super().__init__(fullname, path)
        self.note_failure = note_failure

    def get_code(self, fullname):
        source = self.get_data(self.path)
        return compile_user_source(source, self.path, self.note_failure)


class UserModuleFinder(importlib.abc.MetaPathFinder):
    """Finds the user's own modules (by file location) and loads them through `_RewritingLoader`."""

    def __init__(self, is_user_file: Callable[[str], bool], note_failure: Callable[[BaseException], None]):
        self.is_user_file = is_user_file
        self.note_failure = note_failure

    def find_spec(self, fullname, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return None
        if not spec.origin or not self.is_user_file(spec.origin):
            return None
        spec.loader = _RewritingLoader(fullname, spec.origin, self.note_failure)
        return spec

    def install(self) -> None:
        sys.meta_path.insert(0, self)

    def remove(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
