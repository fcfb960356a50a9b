"""The ranks of a torchrun job hand each other a small payload (their `check` facts), through the
key-value store that torchrun's agent keeps for the job (the one `init_process_group` uses too),
so every rank can judge the whole job. Needs torch: lives under record/."""

from __future__ import annotations

import os
from datetime import timedelta

from gradscope.errors import GradscopeError

TIMEOUT_S = 300  # a rank that never arrives (it crashed) ends the wait: torchrun stops the job anyway


class RanksUnavailable(GradscopeError):
    """The other ranks' payloads could not be gathered."""


def exchange(payload: bytes, rank: int, world_size: int, topic: str) -> list[bytes]:
    """Every rank's payload, in rank order (this rank's included)."""
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() != "true":
        raise RanksUnavailable("not launched by torchrun (no agent store to meet the other ranks at)")
    try:
        import torch.distributed as dist

        store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False,
                              timeout=timedelta(seconds=TIMEOUT_S))
        prefix = (f"gradscope/{topic}/{os.environ.get('TORCHELASTIC_RUN_ID', '')}/"
                  f"{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}/")
        store.set(prefix + str(rank), payload)
        keys = [prefix + str(r) for r in range(world_size)]
        store.wait(keys)
        return [bytes(store.get(key)) for key in keys]
    except (KeyError, ValueError, RuntimeError, OSError) as exc:  # DistStoreError is a RuntimeError
        raise RanksUnavailable(f"{type(exc).__name__}: {exc}") from None
