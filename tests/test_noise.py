"""The noising recipe, checked against direct evaluations of docs/method.md section 2."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.neighborlist import neighbor_list

from ase_rm import NOISE_PRESETS, keys
from ase_rm.data import NoisyDataset, noise_structures
from ase_rm.graph import Frame
from ase_rm.noise import noise_frame, repulsion_forces

MOL, CRY = NOISE_PRESETS["molecule"], NOISE_PRESETS["crystal"]


def brute_repulsion(atoms: Atoms, rc: float, m: float = 1.0, n: int = 2) -> np.ndarray:
    """Repulsion force summed over ASE's neighbour list (periodic images included)."""
    i, j, d, vec = neighbor_list("ijdD", atoms, rc)
    out = np.zeros((len(atoms), 3))
    for a, r, v in zip(i, d, vec, strict=True):
        out[a] += (2 * m * n / rc**2) * (1 - r**2 / rc**2) ** (n - 1) * (-v)
    return out


def test_presets_match_the_published_recipe() -> None:
    assert MOL.levels == (0, 1, 2, 3, 4, 6, 8, 10, 12, 16, 32) and MOL.displacement_scale == 0.1
    assert MOL.repulsion_rc == 0.7 and MOL.label_noise == 0.01 and MOL.kind == "molecule"
    assert CRY.displacement_scale == 0.05 and CRY.repulsion_rc == 0.75 and CRY.label_noise == 0
    assert np.allclose(CRY.strain_scales, np.linspace(-0.1, 0.1, 11))
    lam, mu = CRY.lame
    assert lam == pytest.approx(0.577, abs=1e-3) and mu == pytest.approx(0.385, abs=1e-3)
    assert lam + 2 * mu / 3 == pytest.approx(0.833, abs=1e-3)


def test_repulsion_matches_ase_neighbour_list_with_images() -> None:
    atoms = bulk("Si", "diamond", a=2.0, cubic=True)  # dense: pairs within 0.75 Å across images
    atoms.rattle(0.2, rng=np.random.default_rng(0))
    ref = brute_repulsion(atoms, 0.9)
    assert np.abs(ref).max() > 0.1
    got = repulsion_forces(Frame.from_atoms(atoms), CRY.replace(repulsion_rc=0.9))
    assert np.allclose(got, ref, atol=1e-12)


def test_molecule_frame_is_harmonic_plus_repulsion_plus_label_noise() -> None:
    mol = molecule("CH3CH2OH")
    noisy = noise_frame(Frame.from_atoms(mol), MOL.replace(label_noise=0.0), 16, 0.0, np.random.default_rng(0))
    d = noisy.displacement
    assert np.abs(d).max() <= 0.05 * 16 and np.abs(d).max() > 0.5  # cube of half-width 0.05 s
    assert np.allclose(noisy.frame.positions, mol.positions + d)
    noisy_atoms = Atoms(numbers=mol.numbers, positions=noisy.frame.positions)
    assert np.allclose(noisy.forces, -d + brute_repulsion(noisy_atoms, 0.7), atol=1e-12)
    assert noisy.stress is None and noisy.strain_scale == 0.0
    with_label_noise = noise_frame(Frame.from_atoms(mol), MOL, 16, 0.0, np.random.default_rng(0))
    extra = with_label_noise.forces - (-with_label_noise.displacement
                                       + repulsion_forces(with_label_noise.frame, MOL))
    assert 0 < np.abs(extra).max() <= 0.01 * 4 * 0.5


def test_clean_frame_has_zero_force() -> None:
    mol = molecule("H2O")
    noisy = noise_frame(Frame.from_atoms(mol), MOL, 0, 0.0, np.random.default_rng(0))
    assert np.allclose(noisy.forces, 0) and np.allclose(noisy.frame.positions, mol.positions)


def test_crystal_strain_and_stress_label() -> None:
    atoms = bulk("NaCl", "rocksalt", a=5.6)
    noisy = noise_frame(Frame.from_atoms(atoms), CRY, 4, 0.06, np.random.default_rng(1))
    c0, c = atoms.cell.array, noisy.frame.cell
    length = atoms.get_volume() ** (1 / 3)
    assert np.abs(c - 1.06 * c0).max() <= 0.05 * length + 1e-12
    f = np.linalg.solve(c0, c)
    eps = 0.5 * (f.T @ f - np.eye(3))
    assert np.allclose(noisy.stress, 0.3 / (1.3 * 0.4) * np.trace(eps) * np.eye(3) + 2 / 2.6 * eps)
    assert np.trace(noisy.stress) > 0  # expanded cell: positive (ASE-sign) stress
    # atoms follow the cell affinely, then a minimum-image displacement is added
    frac = np.linalg.solve(c.T, (noisy.frame.positions - noisy.displacement).T).T
    assert np.allclose(frac, atoms.get_scaled_positions(wrap=False))
    dfrac = np.linalg.solve(c.T, noisy.displacement.T).T
    assert np.abs(dfrac).max() <= 0.5


def test_minimum_image_wrapping_of_large_displacements() -> None:
    atoms = bulk("Cu", "fcc", a=1.2)  # tiny cell: 0.8 Å displacements exceed half the cell
    noisy = noise_frame(Frame.from_atoms(atoms), CRY, 32, 0.0, np.random.default_rng(2))
    dfrac = np.linalg.solve(noisy.frame.cell.T, noisy.displacement.T).T
    assert np.abs(dfrac).max() <= 0.5 + 1e-12


def test_fresh_noise_every_epoch_reproducible_by_seed() -> None:
    mols = [molecule("H2O"), molecule("CH4")]
    a = noise_structures(mols, MOL, seed=5, epoch=0)
    b = noise_structures(mols, MOL, seed=5, epoch=0)
    c = noise_structures(mols, MOL, seed=5, epoch=1)
    d = noise_structures(mols, MOL, seed=6, epoch=0)
    assert len(a) == 2 * 11
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, b, strict=True))
    assert not np.allclose(a[5].positions, c[5].positions)
    assert not np.allclose(a[5].positions, d[5].positions)
    assert {f.info[keys.RM_NOISE_LEVEL] for f in a} == set(MOL.levels)
    assert all(keys.RM_FORCES in f.arrays and "forces" not in f.arrays for f in a)


def test_crystal_grid_mode_covers_every_strain_and_level() -> None:
    ds = NoisyDataset([bulk("Si", "diamond", a=5.43)], CRY.replace(strain_mode="grid"), seed=0)
    assert len(ds) == 121
    pairs = {(ds.frame(i, 0).level, ds.frame(i, 0).strain_scale) for i in range(len(ds))}
    assert len(pairs) == 121


def test_inputs_are_not_modified() -> None:
    atoms = bulk("Si", "diamond", a=5.43)
    before = atoms.positions.copy(), atoms.cell.array.copy()
    noise_structures([atoms], CRY, seed=0)
    assert np.array_equal(atoms.positions, before[0]) and np.array_equal(atoms.cell.array, before[1])


@pytest.mark.parametrize(
    ("change", "message"),
    [({"kind": "liquid"}, "kind must be"), ({"levels": ()}, "levels is empty"),
     ({"strain_mode": "both"}, "strain_mode must be"), ({"strain_scales": ()}, "needs strain_scales"),
     ({"repulsion_rc": 0.0}, "repulsion_rc must be > 0")],
)
def test_bad_noise_configs_are_refused(change: dict[str, object], message: str) -> None:
    from ase_rm.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        CRY.replace(**change)
