"""Memory: after an in-process trace the script's tensors are freed — the capture holds none."""

from __future__ import annotations

import dataclasses
import gc
import sys

import msgspec

from conftest import SCRIPTS


def _contains_tensor(value, seen) -> bool:
    import torch

    if id(value) in seen:
        return False
    seen.add(id(value))
    if isinstance(value, torch.Tensor):
        return True
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_contains_tensor(getattr(value, f.name), seen) for f in dataclasses.fields(value))
    if isinstance(value, msgspec.Struct):  # the capture's records
        return any(_contains_tensor(getattr(value, name), seen) for name in value.__struct_fields__)
    if isinstance(value, dict):
        return any(_contains_tensor(k, seen) or _contains_tensor(v, seen) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return any(_contains_tensor(v, seen) for v in value)
    return not isinstance(value, (str, int, float, bool, type(None)))  # anything else is not plain data


def test_script_tensors_die_after_tracing():
    import warnings

    from gradscope import runner
    from gradscope.api import trace_target

    sys.path.insert(0, str(SCRIPTS))
    try:
        import _registry

        _registry.refs.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = trace_target(runner.resolve_script(str(SCRIPTS / "memory_tensors.py")), [])
    finally:
        sys.path.remove(str(SCRIPTS))
    assert result.exit_code == 0
    refs = list(_registry.refs)
    _registry.refs.clear()
    assert len(refs) == 12
    gc.collect()
    alive = [ref() for ref in refs if ref() is not None]
    assert not alive, f"{len(alive)} objects of the script outlived the trace: {[type(a).__name__ for a in alive]}"
    capture = result.capture
    assert capture.backward_calls == 3 and capture.tensors
    assert not _contains_tensor(capture, set()), "the capture must be plain data"
