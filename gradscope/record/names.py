"""Variable names of the user's code, by rewriting its AST.

After every assignment to a plain name (`x = ...`, `a, b = ...`, `x += ...`, `for x in`, `with ... as x`,
`x: T = ...`) the rewritten code calls a binding hook with the value, the name, the line and the
enclosing function. This names both tensors in `x = x * 2` (a line tracer or a scan of globals at
exit would only see the last) and keeps the user's line numbers, as the code is compiled under the
real file name with the original locations.

The hook runs only for values of a type not yet known to be plain (an int, a list, the script's own
classes): the rewritten code checks `if type(x) not in PLAIN_TYPES: __gradscope_bind__(x, "x", 3, None)`
inline, with `type` and the set loaded as constants of the code object (no global lookup), so a
pure-Python loop pays a few bytecodes per assignment, not a call. `type()` never runs the value's
own code (`__class__`, `__eq__`, `__hash__`), unlike `isinstance`. The hook itself is reached
through `builtins`, so the user's globals stay exactly as under plain python.
"""

from __future__ import annotations

import ast
import builtins
import importlib.abc
import importlib.machinery
import sys
import types
import warnings
from typing import Callable

HOOK_NAME = "__gradscope_bind__"
# Types the hook has found plain (it fills the set; emptied when tracing ends, so that it keeps no
# class, and through its methods no module globals, alive). Rewritten code holds this very set.
class _TypeSet(set):
    """A set that can sit among a code object's constants, which tools such as torch.compile hash:
    hashed by identity. Membership is still set's own (C) lookup."""

    __hash__ = object.__hash__


PLAIN_TYPES: set = _TypeSet()
# Placeholder constants in the rewritten AST, replaced by `type` and `PLAIN_TYPES` after compiling.
_TYPE_SLOT = complex(7.0, 1e-300)
_PLAIN_SLOT = complex(7.0, 2e-300)
_SLOTS = {_TYPE_SLOT: type, _PLAIN_SLOT: PLAIN_TYPES}


class _BindingInserter(ast.NodeTransformer):
    def __init__(self) -> None:
        self.scopes: list[str] = []

    # -- scopes ------------------------------------------------------------------------------
    def _visit_scope(self, node):
        self.scopes.append(node.name)
        self.generic_visit(node)
        self.scopes.pop()
        return node

    visit_FunctionDef = _visit_scope
    visit_AsyncFunctionDef = _visit_scope
    visit_ClassDef = _visit_scope

    def visit_Lambda(self, node):
        return node  # no statements inside

    # -- statements that bind names ----------------------------------------------------------
    def _with_bindings(self, stmt, targets):
        names = _target_names(targets)
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
        names = _target_names(targets)
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

    def _bind_call(self, name: str, located: ast.AST) -> ast.stmt:
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
        value_type = ast.Call(func=ast.Constant(_TYPE_SLOT), args=[ast.Name(name, ast.Load())], keywords=[])
        test = ast.Compare(left=value_type, ops=[ast.NotIn()], comparators=[ast.Constant(_PLAIN_SLOT)])
        return ast.copy_location(ast.If(test=test, body=[call], orelse=[]), located)


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
        rewritten = ast.fix_missing_locations(_BindingInserter().visit(tree))
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


def install_hook(hook: Callable) -> None:
    """`hook(value, name, line, scope)` runs for values whose type is not in `PLAIN_TYPES`."""
    setattr(builtins, HOOK_NAME, hook)


def remove_hook() -> None:
    # Leave a no-op behind: code compiled with hooks (functions defined by the script, imported user
    # modules) may still run after tracing ends, e.g. in atexit handlers or in a notebook.
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
