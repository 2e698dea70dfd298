"""Model contract suite: every denoiser variant must pass these checks.

Each check takes a :class:`~ase_rm.potential.Potential` (and structures) and
raises ``AssertionError`` naming what failed. Tolerances are per dtype; run
finite-difference checks in float64.

    from ase_rm.testing import run_contracts
    run_contracts(potential)          # all checks on built-in test structures
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from ase import Atoms
from ase.build import bulk, molecule

from .. import keys
from ..graph import Frame, build_graph
from ..potential import Potential

TOLERANCES: dict[torch.dtype, dict[str, float]] = {
    torch.float64: {"fd": 1e-6, "equal": 1e-9, "step": 1e-5},
    torch.float32: {"fd": 5e-2, "equal": 1e-4, "step": 1e-3},
}
"""Absolute tolerances: finite differences, exact identities, FD step (Å)."""


def _dtype(potential: Potential) -> torch.dtype:
    return next(potential.parameters()).dtype


def _tol(potential: Potential, key: str) -> float:
    return TOLERANCES[_dtype(potential)][key]


def evaluate(potential: Potential, structures: Sequence[Atoms], stress: bool = False) -> dict[str, np.ndarray]:
    """Energy, forces (and stress) of structures in one batch, as float64 numpy."""
    dev = next(potential.parameters()).device
    graph = build_graph([Frame.from_atoms(a) for a in structures], potential.cutoff, _dtype(potential), dev)
    out = potential(graph, forces=True, stress=stress)
    return {k: v.detach().cpu().double().numpy() for k, v in out.items()}


def _close(a: np.ndarray, b: np.ndarray, tol: float, what: str) -> None:
    err = float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) if np.size(a) else 0.0
    assert err <= tol, f"{what}: max deviation {err:.3g} > tolerance {tol:.3g}"


def check_forces_fd(potential: Potential, atoms: Atoms) -> None:
    """Forces equal central finite differences of the energy."""
    h, ref = _tol(potential, "step"), evaluate(potential, [atoms])
    fd = np.zeros_like(atoms.positions)
    for i in range(len(atoms)):
        for c in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[i, c] += h
            minus.positions[i, c] -= h
            e = evaluate(potential, [plus, minus])[keys.ENERGY]
            fd[i, c] = -(e[0] - e[1]) / (2 * h)
    _close(ref[keys.FORCES], fd, _tol(potential, "fd"), "forces vs finite differences")


def check_stress_fd(potential: Potential, atoms: Atoms) -> None:
    """Stress equals (1/V) dE/d(strain) by central finite differences."""
    h, ref = _tol(potential, "step"), evaluate(potential, [atoms], stress=True)
    fd = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            pair = []
            for sign in (1, -1):
                eps = np.eye(3)
                eps[a, b] += sign * h
                strained = atoms.copy()
                strained.set_cell(atoms.cell.array @ eps, scale_atoms=True)
                pair.append(strained)
            e = evaluate(potential, pair)[keys.ENERGY]
            fd[a, b] = (e[0] - e[1]) / (2 * h) / atoms.get_volume()
    fd = 0.5 * (fd + fd.T)
    _close(ref[keys.STRESS][0], fd, _tol(potential, "fd"), "stress vs finite differences")


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def check_invariance(potential: Potential, atoms: Atoms, seed: int = 0) -> None:
    """Energy invariant and forces covariant under rotation, translation, permutation."""
    rng, tol = np.random.default_rng(seed), _tol(potential, "equal")
    ref = evaluate(potential, [atoms])
    rot = _random_rotation(rng)
    moved = atoms.copy()
    moved.positions = atoms.positions @ rot.T + rng.normal(size=3)
    moved.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
    perm = rng.permutation(len(atoms))
    shuffled = atoms[perm]
    out = evaluate(potential, [moved, shuffled])
    n = len(atoms)
    _close(out[keys.ENERGY][0], ref[keys.ENERGY][0], tol * n, "energy under rotation+translation")
    _close(out[keys.FORCES][:n], ref[keys.FORCES] @ rot.T, tol * 10, "forces under rotation")
    _close(out[keys.ENERGY][1], ref[keys.ENERGY][0], tol * n, "energy under permutation")
    _close(out[keys.FORCES][n:], ref[keys.FORCES][perm], tol * 10, "forces under permutation")


def check_batched_equals_single(potential: Potential, structures: Sequence[Atoms]) -> None:
    """A batch gives the same energies, forces and stresses as one-by-one calls."""
    stress = all(a.pbc.all() for a in structures)
    batched, tol, start = evaluate(potential, structures, stress), _tol(potential, "equal"), 0
    for k, atoms in enumerate(structures):
        single = evaluate(potential, [atoms], stress)
        _close(batched[keys.ENERGY][k], single[keys.ENERGY][0], tol * len(atoms), f"energy of structure {k}")
        f = batched[keys.FORCES][start : start + len(atoms)]
        _close(f, single[keys.FORCES], tol * 10, f"forces of structure {k}")
        if stress:
            _close(batched[keys.STRESS][k], single[keys.STRESS][0], tol * 10, f"stress of structure {k}")
        start += len(atoms)


def check_extensivity(potential: Potential, crystal: Atoms) -> None:
    """E(2x2x2 supercell) == 8 E(cell), and the stress is unchanged."""
    out = evaluate(potential, [crystal, crystal.repeat(2)], stress=True)
    e, tol = out[keys.ENERGY], _tol(potential, "equal") * 8 * len(crystal)
    _close(e[1], 8 * e[0], tol, "supercell energy vs 8 x cell energy")
    _close(out[keys.STRESS][1], out[keys.STRESS][0], _tol(potential, "equal") * 10, "supercell stress")


def check_cutoff_smooth(potential: Potential, z: int, n_points: int = 9) -> None:
    """A dimer's energy and force go continuously to their r > rc values."""
    rc, tol = potential.cutoff, _tol(potential, "fd")
    far = evaluate(potential, [Atoms(numbers=[z, z], positions=[[0, 0, 0], [0, 0, rc + 1.0]])])
    energies, forces = [], []
    for d in np.linspace(1e-3, 1e-6, n_points):
        out = evaluate(potential, [Atoms(numbers=[z, z], positions=[[0, 0, 0], [0, 0, rc - d]])])
        energies.append(out[keys.ENERGY][0])
        forces.append(out[keys.FORCES])
    _close(energies[-1], far[keys.ENERGY][0], tol, "dimer energy just inside the cutoff")
    _close(forces[-1], 0 * forces[-1], tol, "dimer force just inside the cutoff")
    assert np.all(np.diff(np.abs(np.asarray(energies) - far[keys.ENERGY][0])) <= tol), (
        "dimer energy does not approach its cutoff value monotonically"
    )


def default_structures(species: Sequence[int]) -> tuple[Atoms, Atoms, list[Atoms]]:
    """(molecule, crystal, batch) made of the first elements of ``species``."""
    rng = np.random.default_rng(1)
    mol = molecule("CH3CH2OH")
    mol.numbers = np.array([species[i % len(species)] for i in range(len(mol))])
    crystal = bulk("NaCl", "rocksalt", a=4.0, cubic=True)
    crystal.numbers = np.array([species[i % len(species)] for i in range(len(crystal))])
    crystal.positions += rng.normal(scale=0.05, size=crystal.positions.shape)
    crystal.set_cell(crystal.cell.array @ (np.eye(3) + rng.normal(scale=0.02, size=(3, 3))), scale_atoms=True)
    mol.positions += rng.normal(scale=0.05, size=mol.positions.shape)
    small = mol[:4]
    return mol, crystal, [mol, crystal, small]


def run_contracts(
    potential: Potential,
    species: Sequence[int] | None = None,
    calculator_factory: Callable[[], object] | None = None,
) -> None:
    """Run every contract on built-in structures of the model's species."""
    species = list(species or potential.model.config.species)  # type: ignore[union-attr, arg-type]
    mol, crystal, batch = default_structures(species)
    check_forces_fd(potential, mol)
    check_forces_fd(potential, crystal)
    check_stress_fd(potential, crystal)
    check_invariance(potential, mol)
    check_invariance(potential, crystal)
    check_batched_equals_single(potential, batch)
    check_batched_equals_single(potential, [crystal, crystal.repeat((1, 1, 2))])
    check_extensivity(potential, crystal)
    check_cutoff_smooth(potential, species[0])
    if calculator_factory is not None:
        check_calculator_matches(potential, calculator_factory, crystal)


def check_calculator_matches(potential: Potential, calculator_factory: Callable[[], object], atoms: Atoms) -> None:
    """RMCalculator gives the potential's energy, forces and (Voigt) stress."""
    from ase.stress import full_3x3_to_voigt_6_stress

    ref = evaluate(potential, [atoms], stress=True)
    a = atoms.copy()
    a.calc = calculator_factory()
    tol = _tol(potential, "equal")
    _close(a.get_potential_energy(), ref[keys.ENERGY][0], tol * len(a), "calculator energy")
    _close(a.get_forces(), ref[keys.FORCES], tol * 10, "calculator forces")
    _close(a.get_stress(), full_3x3_to_voigt_6_stress(ref[keys.STRESS][0]), tol * 10, "calculator stress")
