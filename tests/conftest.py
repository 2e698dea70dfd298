"""Shared fixtures: tiny models and structures; shared data when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase.build import bulk

from ase_rm import Denoiser, ModelConfig, Potential
from ase_rm.checkpoint import atomic_save, make_checkpoint

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """../shared/data (the datasets); tests that need it skip without it."""
    if not (SHARED_DATA / "qm7b.extxyz.gz").exists():
        pytest.skip(f"shared datasets not found at {SHARED_DATA} (only present in the project checkout/CI)")
    return SHARED_DATA


TINY = ModelConfig(species=(1, 6, 7, 8), cutoff=3.5, n_embedding=2, hidden=(8,))


def tiny_model(dtype: torch.dtype = torch.float64, seed: int = 0, config: ModelConfig = TINY) -> Denoiser:
    return Denoiser(config, torch.Generator().manual_seed(seed), dtype=dtype)


@pytest.fixture
def tiny_potential() -> Potential:
    return Potential(tiny_model())


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.pt"
    atomic_save(make_checkpoint(tiny_model(), volume_fit={6: 5.7}), path)
    return path


@pytest.fixture
def diamond() -> object:
    atoms = bulk("C", "diamond", a=3.6, cubic=True)
    atoms.rattle(0.05, rng=np.random.default_rng(0))
    return atoms
