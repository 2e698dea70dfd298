"""Fixtures shared by the plugin tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ase_rm import Denoiser, ModelConfig
from ase_rm.checkpoint import atomic_save, make_checkpoint


@pytest.fixture
def salt_checkpoint(tmp_path: Path) -> Path:
    """An untrained tiny model of Li, Na, S, Cl with fitted element volumes (crystal starts need them)."""
    config = ModelConfig(species=(3, 11, 16, 17), cutoff=3.5, n_embedding=2, hidden=(8,))
    model = Denoiser(config, torch.Generator().manual_seed(0), dtype=torch.float64)
    path = tmp_path / "salt.pt"
    atomic_save(make_checkpoint(model, volume_fit={3: 20.0, 11: 24.0, 16: 25.0, 17: 25.0}), path)
    return path
