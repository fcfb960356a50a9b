"""The module namer: which modules and optimizers the script made, and what to call their parts.

Module hooks keep the stack of modules whose forward is running (an op's module); the binding hook
says which variable holds a module or optimizer; `name_modules` then names every parameter and
buffer after the variable holding its top-level module (`cnn.conv1.0.weight`).
"""

from __future__ import annotations

import weakref

import torch

from gradscope.record.registry import TensorRegistry


class ModuleNamer:
    def __init__(self, registry: TensorRegistry):
        self._registry = registry
        self.stack: list[int] = []  # id() of each module whose forward is running, innermost last
        self._called: dict[int, weakref.ref] = {}  # id(module) -> module, for every module called
        self._modules: weakref.WeakSet = weakref.WeakSet()
        self._names: dict[int, str] = {}  # id(module) -> variable name it was bound to
        self._optimizers: list[tuple[str, weakref.ref, int | None]] = []  # (variable, optimizer, line bound)
        self.optimizer_entries: dict[int, dict] = {}  # id(optimizer) -> {"name", "type", "params", "line"}
        self.params: dict[int, object] = {}  # record id -> parameter record (every module's)
        self.qualnames: dict[int, str] = {}  # id(module) -> qualified name
        self.entries: dict[str, dict] = {}  # qualified name -> {"type", "params", "grad_buffers", "called"}

    @property
    def current(self) -> int | None:
        """id() of the innermost module whose forward is running."""
        return self.stack[-1] if self.stack else None

    # -- what the script binds -----------------------------------------------------------------
    def bind_module(self, module, name: str) -> None:
        self._names.setdefault(id(module), name)
        self._modules.add(module)

    def bind_optimizer(self, optimizer, name: str, line: int | None = None) -> None:
        """The first binding names it, and its line is where the script built it."""
        if not any(ref() is optimizer for _, ref, _ in self._optimizers):
            self._optimizers.append((name, weakref.ref(optimizer), line or None))

    def live_modules(self) -> list:
        """Every module the script made that is still alive."""
        return list(self._modules)

    def optimizer_refs(self) -> list[tuple[str, weakref.ref]]:
        """(variable name, weak reference) of every optimizer the script bound to a name."""
        return [(name, ref) for name, ref, _ in self._optimizers]

    # -- module hooks --------------------------------------------------------------------------
    def on_parameter_registered(self, module, param, file, line) -> None:
        self._modules.add(module)
        if param is None:
            return
        rec = self._registry.record_for(param, file, line)
        rec.is_parameter = True
        self.params[rec.id] = rec

    def on_module_enter(self, module) -> None:
        key = id(module)
        self.stack.append(key)
        if key not in self._called:
            self._called[key] = weakref.ref(module)
            self._modules.add(module)

    def on_module_exit(self, module) -> None:
        stack = self.stack
        key = id(module)
        while stack:
            if stack.pop() == key:
                break

    # -- names ---------------------------------------------------------------------------------
    def name_modules(self) -> None:
        """Name every live module and parameter after the variable holding its top-level module,
        and note which parameters each live optimizer holds.

        Runs at each recorded backward call and at exit: a model local to `train()` is gone by the
        end of the script, but its parameters must still carry their qualified names.
        """
        registry = self._registry
        names = self._names
        # torch.compile's wrapper is transparent: its module is named after the user's own variable
        modules = [m for m in self._modules if id(getattr(m, "_orig_mod", None)) not in names]
        nested = set()
        for m in modules:
            for sub in m.modules():
                if sub is not m:
                    nested.add(id(sub))
        roots = [m for m in modules if id(m) not in nested]
        roots.sort(key=lambda m: names.get(id(m), "~" + type(m).__name__))
        for root in roots:
            prefix = names.get(id(root), "")
            for qual, sub in root.named_modules(prefix=prefix):
                qual = qual.replace("._orig_mod", "") or type(sub).__name__
                self.qualnames[id(sub)] = qual
                params = []
                for p in sub.parameters(recurse=False):
                    rec = registry.record_for(p)
                    rec.is_parameter = True
                    self.params[rec.id] = rec
                    params.append(rec)
                # a buffer that requires grad is a learnable value model.parameters() never yields
                grad_buffers = [registry.record_for(b) for b in sub.buffers(recurse=False) if b.requires_grad]
                self.entries[qual] = {"type": type(sub).__name__, "params": params, "grad_buffers": grad_buffers,
                                      "grad_attrs": _grad_attrs(sub, registry), "called": id(sub) in self._called}
            for pname, p in root.named_parameters(prefix=prefix):
                rec = registry.lookup(p)
                if rec is not None and rec.param_name is None:
                    rec.param_name = pname.replace("._orig_mod", "")
            for bname, b in root.named_buffers(prefix=prefix):  # running_mean and the like
                rec = registry.lookup(b)
                if rec is not None and (rec.name is None or rec.scope is not None):
                    rec.name, rec.scope = bname.replace("._orig_mod", ""), None
        for name, ref, line in self._optimizers:
            opt = ref()
            if opt is not None:
                params = [registry.record_for(p) for group in opt.param_groups for p in group["params"]]
                self.optimizer_entries[id(opt)] = {"name": name, "type": type(opt).__name__, "params": params,
                                                   "line": line}


def _grad_attrs(module, registry) -> dict:
    """Attribute name -> record of each leaf tensor that requires grad held as a plain attribute
    (`self.scale = torch.ones(1, requires_grad=True)`): learnable-looking, but model.parameters()
    never yields it. Types are compared, never isinstance: a value's own `__class__` may run code."""
    found = {}
    for attr, value in vars(module).items():
        kind = type(value)
        if issubclass(kind, torch.Tensor) and not issubclass(kind, torch.nn.Parameter) \
                and value.requires_grad and value.is_leaf:
            found[attr] = registry.record_for(value)
    return found
