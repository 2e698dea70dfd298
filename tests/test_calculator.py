"""RMCalculator: the user's ASE workflow, bad input, global state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from ase.calculators.calculator import PropertyNotImplementedError
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE

from ase_rm import (
    CheckpointError,
    ConfigError,
    InvalidStructureError,
    Potential,
    RMCalculator,
    UnknownElementError,
)
from ase_rm import testing as contracts
from ase_rm.checkpoint import model_from_checkpoint, read_checkpoint


def test_user_workflow_energy_forces_stress_and_relaxation(tiny_checkpoint: Path, diamond: Atoms) -> None:
    atoms = diamond.copy()
    atoms.calc = RMCalculator.from_checkpoint(tiny_checkpoint)
    e = atoms.get_potential_energy()
    assert np.isfinite(e) and atoms.get_forces().shape == (8, 3) and atoms.get_stress().shape == (6,)
    assert atoms.get_potential_energy(force_consistent=True) == pytest.approx(e)
    assert atoms.get_potential_energies().sum() == pytest.approx(e, abs=1e-4)
    fmax0 = np.linalg.norm(atoms.get_forces(), axis=1).max()
    opt = FIRE(FrechetCellFilter(atoms), logfile=None)
    opt.run(fmax=0.01, steps=100)
    assert atoms.get_potential_energy() < e
    assert np.linalg.norm(atoms.get_forces(), axis=1).max() < 0.5 * fmax0


def test_calculator_matches_potential_in_float64(tiny_checkpoint: Path, diamond: Atoms) -> None:
    data = read_checkpoint(tiny_checkpoint)
    pot = Potential(model_from_checkpoint(data).double())
    contracts.check_calculator_matches(
        pot, lambda: RMCalculator.from_checkpoint(tiny_checkpoint, dtype=torch.float64), diamond
    )


def test_stress_needs_a_3d_cell(tiny_checkpoint: Path) -> None:
    slab = bulk("C", "diamond", a=3.6, cubic=True)
    slab.pbc = (True, True, False)
    slab.calc = RMCalculator.from_checkpoint(tiny_checkpoint)
    assert slab.get_forces().shape == (8, 3)
    with pytest.raises(PropertyNotImplementedError, match="3-D periodic"):
        slab.get_stress()
    mol = molecule("CH4")
    mol.calc = RMCalculator.from_checkpoint(tiny_checkpoint)
    with pytest.raises(PropertyNotImplementedError, match="3-D periodic"):
        mol.get_stress()


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Atoms(), InvalidStructureError, "empty"),
        (lambda: Atoms("CH", positions=[[0, 0, 0], [np.nan, 0, 0]]), InvalidStructureError, "non-finite"),
        (lambda: Atoms("CH", positions=[[0, 0, 0], [np.inf, 0, 0]]), InvalidStructureError, "non-finite"),
        (lambda: Atoms("CH", positions=[[0, 0, 0], [0, 0, 0]]), InvalidStructureError, "sits on atom 1"),
        (lambda: Atoms("CSi", positions=[[0, 0, 0], [0, 0, 1.5]]), UnknownElementError, "contains Si"),
        (lambda: Atoms("C", cell=[1, 1, 0], pbc=True), InvalidStructureError, "degenerate"),
    ],
)
def test_bad_input_gets_one_clear_error(tiny_checkpoint: Path, make, error, message) -> None:  # type: ignore[no-untyped-def]
    atoms = make()
    atoms.calc = RMCalculator.from_checkpoint(tiny_checkpoint)
    with pytest.raises(error, match=message):
        atoms.get_potential_energy()


def test_atom_on_its_own_periodic_image_is_rejected(tiny_checkpoint: Path) -> None:
    atoms = Atoms("C", cell=[[1e-3, 0, 0], [0, 3, 0], [0, 0, 3]], pbc=True)
    atoms.calc = RMCalculator.from_checkpoint(tiny_checkpoint)
    with pytest.raises(InvalidStructureError, match="periodic image"):
        atoms.get_potential_energy()


def test_calculator_never_touches_torch_global_state(tiny_checkpoint: Path, diamond: Atoms) -> None:
    dtype, threads, rng = torch.get_default_dtype(), torch.get_num_threads(), torch.random.get_rng_state()
    grad = torch.is_grad_enabled()
    with torch.no_grad():
        atoms = diamond.copy()
        atoms.calc = RMCalculator.from_checkpoint(tiny_checkpoint, dtype=torch.float64)
        atoms.get_forces()
        atoms.get_stress()
        assert not torch.is_grad_enabled()
    assert torch.get_default_dtype() == dtype and torch.get_num_threads() == threads
    assert torch.equal(rng, torch.random.get_rng_state()) and torch.is_grad_enabled() == grad


def test_float32_and_float64_agree(tiny_checkpoint: Path, diamond: Atoms) -> None:
    a32, a64 = diamond.copy(), diamond.copy()
    a32.calc = RMCalculator.from_checkpoint(tiny_checkpoint, dtype=torch.float32)
    a64.calc = RMCalculator.from_checkpoint(tiny_checkpoint, dtype=torch.float64)
    assert a32.get_potential_energy() == pytest.approx(a64.get_potential_energy(), abs=1e-4)
    assert np.allclose(a32.get_forces(), a64.get_forces(), atol=1e-4)


def test_unknown_checkpoint_name_lists_the_shipped_ones() -> None:
    with pytest.raises(CheckpointError, match="no checkpoint file 'nope.pt'"):
        RMCalculator.from_checkpoint("nope.pt")


def test_repulsion_at_load_adds_the_core_term_only_below_its_radius(tiny_checkpoint: Path) -> None:
    """load_potential(repulsion=(R, A)) adds A (R/r - 1)^2 per pair closer than R and nothing else;
    the network's weights are the checkpoint's."""
    far = bulk("C", "diamond", a=3.57)  # C-C 1.55 Å > R
    near = Atoms("C2", positions=[[0, 0, 0], [0.8, 0, 0]], cell=[6, 6, 6], pbc=True)
    plain = RMCalculator.from_checkpoint(tiny_checkpoint, dtype=torch.float64)
    pushed = RMCalculator.from_checkpoint(tiny_checkpoint, dtype=torch.float64, repulsion=(1.1, 5.0))
    for atoms in (far, near):
        e0, f0 = _energy_forces(plain, atoms)
        e1, f1 = _energy_forces(pushed, atoms)
        if atoms is far:
            assert e1 == pytest.approx(e0, abs=1e-12) and np.allclose(f1, f0, atol=1e-12)
        else:
            assert e1 - e0 == pytest.approx(5.0 * (1.1 / 0.8 - 1) ** 2, rel=1e-9)
            push = -2 * 5.0 * (1.1 / 0.8 - 1) * 1.1 / 0.8**2  # dE/dr of the pair term
            assert f1[1, 0] - f0[1, 0] == pytest.approx(-push, rel=1e-6)  # pushes atom 1 away (+x)
    with pytest.raises(ConfigError, match="core_radius"):
        RMCalculator.from_checkpoint(tiny_checkpoint, repulsion=(-1.0, 5.0))
    with pytest.raises(ConfigError, match="core_energy"):
        RMCalculator.from_checkpoint(tiny_checkpoint, repulsion=(1.1, -5.0))


def _energy_forces(calc: RMCalculator, atoms: Atoms) -> tuple[float, np.ndarray]:
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy(), atoms.get_forces()
