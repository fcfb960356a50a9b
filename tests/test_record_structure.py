"""The recorder's structure: private torch APIs only in `record/torch_private.py`, and a torch that
lacks them loses detail, not the run."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from conftest import ROOT, SAMPLES

PACKAGE = ROOT / "gradscope"
GUARD = PACKAGE / "record" / "torch_private.py"


def _private_torch_uses(source: str, name: str) -> list[str]:
    """`torch.x._y` attribute chains and `from torch... import _y` / `import torch._y` in a source."""
    found = []
    path = type("P", (), {"name": name})
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            chain = node.value
            while isinstance(chain, ast.Attribute):
                chain = chain.value
            if isinstance(chain, ast.Name) and chain.id == "torch":
                found.append(f"{path.name}:{node.lineno} .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "torch":
            names = [a.name for a in node.names] + node.module.split(".")
            found += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith("_") and not n.startswith("__")]
        elif isinstance(node, ast.Import):
            found += [f"{path.name}:{node.lineno} {a.name}" for a in node.names
                      if a.name.split(".")[0] == "torch" and any(p.startswith("_") for p in a.name.split("."))]
    return found


def test_private_torch_apis_are_used_only_in_the_guard_module():
    offenders = [use for path in sorted(PACKAGE.rglob("*.py")) if path != GUARD
                 for use in _private_torch_uses(path.read_text(), path.name)]
    assert offenders == []
    sample = "import torch._C\nfrom torch.overrides import _get_current_function_mode_stack\nf = torch._C._x\n"
    assert len(_private_torch_uses(sample, "sample.py")) == 4, "the check finds each kind of use"


def test_this_torch_has_every_listed_private_api():
    from gradscope.record import torch_private

    assert torch_private.MISSING == ()


# Runs gradscope with a torch_private whose every private lookup fails, as on a torch without them.
_WITHOUT_PRIVATE_APIS = """
import importlib.util, sys
path = sys.argv.pop(1)
source = open(path).read().replace("def _lookup(dotted: str):", "def _lookup(dotted):\\n    return None\\n\\ndef _unused(dotted):")
spec = importlib.util.spec_from_loader("gradscope.record.torch_private", loader=None)
module = importlib.util.module_from_spec(spec)
exec(compile(source, path, "exec"), module.__dict__)
sys.modules[spec.name] = module
assert len(module.MISSING) == len(module.APIS), module.MISSING
from gradscope.cli import main
main(sys.argv[1:])
"""


def test_a_torch_without_the_private_apis_still_traces(tmp_path):
    out = tmp_path / "cap.json"
    script = SAMPLES / "detach.py"
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT)
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_PRIVATE_APIS, str(GUARD), "trace", "--quiet", "--json",
                           str(out), str(script)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == plain.returncode == 0, proc.stderr
    assert proc.stdout == plain.stdout
    capture = json.loads(out.read_text())
    names = {t["name"] for t in capture["tensors"]}
    assert {"x", "y", "z", "x1", "z1", "y1"} <= names and capture["backward_calls"] == 1 and capture["nodes"]
