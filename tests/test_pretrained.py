"""The shipped checkpoints load offline by name and behave as their training promised."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk

from ase_rm import RMCalculator, read_checkpoint, shipped_names


def test_diamond_ships_and_describes_itself() -> None:
    assert "diamond" in shipped_names()
    data = read_checkpoint("diamond")
    summary = data["training_summary"]
    assert data["species"] == [6] and summary["epochs_planned"] == 40
    assert summary["epochs_done"] == summary["best_epoch"] + 1  # the best EMA model, saved when it was best
    assert "(3, 3, 1)" in summary["training_cell"]


def test_diamond_minimum_is_the_training_density() -> None:
    calc = RMCalculator.from_checkpoint("diamond")
    energies = {}
    for v in (4.0, 4.41, 4.8):
        atoms = bulk("C", "diamond", a=(8 * v) ** (1 / 3), cubic=True)
        atoms.calc = calc
        energies[v] = atoms.get_potential_energy() / len(atoms)
        assert np.abs(atoms.get_forces()).max() < 1e-4  # symmetric: no forces
    assert energies[4.41] < energies[4.0] and energies[4.41] < energies[4.8]
    atoms = bulk("C", "diamond", a=3.279, cubic=True)
    atoms.calc = calc
    assert np.abs(atoms.get_stress()).max() < 0.02  # near the stress-free training cell
    assert energies[4.41] == pytest.approx(atoms.get_potential_energy() / 8, abs=1e-3)
