"""Distributed data-parallel training with torch.distributed (torchrun).

Under torchrun (RANK/WORLD_SIZE set) each rank takes every world-th frame of
each global batch; DistributedDataParallel averages the gradients, so the
optimiser sees the same global batch as a single process would.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn

REDUCED_KEYS = ("loss_sum", "frames", "atoms", "f_sq", "f_abs", "f_n", "s_sq", "s_n")
"""Every key a rank may hold, so that all ranks reduce the same vector."""


@dataclass
class Dist:
    """Rank, world size and helpers; world 1 means no distribution."""

    rank: int = 0
    world: int = 1

    @classmethod
    def from_env(cls) -> Dist:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() and os.environ.get("RM_DIST_BACKEND") != "gloo" else "gloo"
            dist.init_process_group(backend=backend)
        return cls(rank=dist.get_rank(), world=dist.get_world_size())

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, module: nn.Module) -> nn.Module:
        if self.world <= 1:
            return module
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(module)

    def all_reduce(self, totals: dict[str, float]) -> dict[str, float]:
        """Sum a dict of floats over ranks (same keys on every rank)."""
        if self.world <= 1:
            return dict(totals)
        import torch.distributed as dist

        keys = sorted(set(totals) | set(REDUCED_KEYS))
        t = torch.tensor([float(totals.get(k, 0.0)) for k in keys], dtype=torch.float64)
        dist.all_reduce(t)
        return dict(zip(keys, t.tolist(), strict=True))
