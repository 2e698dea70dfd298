"""Recipe options of issue 23: core repulsion, static noise, the energy-difference
loss, the generation signal in the training loop, and the time limit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule

from ase_rm import NOISE_PRESETS, ModelConfig, NoiseConfig, Potential, TrainConfig, keys
from ase_rm.data import NoisyDataset, collate
from ase_rm.errors import ConfigError
from ase_rm.graph import Frame, build_graph
from ase_rm.model import Denoiser
from ase_rm.noise import noise_frame, repulsion
from ase_rm.testing import run_contracts
from ase_rm.training.loss import batch_loss
from ase_rm.training.run import train
from ase_rm.training.signal import SignalSpec, choose_compositions, get_scorer, heavy_atoms

HCO = ModelConfig(species=(1, 6, 8), cutoff=3.0, n_embedding=1, hidden=(8,))
MOL_NOISE = NoiseConfig(levels=(0, 2, 8, 32), label_noise=0.0)


def mols() -> list[Atoms]:
    return [molecule("CH3OH"), molecule("H2CO"), molecule("CH4"), molecule("C2H6")]


def test_core_repulsion_passes_the_model_contracts() -> None:
    model = Denoiser(HCO.replace(core_radius=0.6, core_energy=2.0), torch.Generator().manual_seed(0),
                     dtype=torch.float64)
    run_contracts(Potential(model))


def test_core_repulsion_adds_the_pair_energy_below_its_radius_only() -> None:
    cfg = HCO.replace(species=(1,))
    plain = Denoiser(cfg, torch.Generator().manual_seed(0), dtype=torch.float64)
    core = Denoiser(cfg.replace(core_radius=0.5, core_energy=3.0), torch.Generator().manual_seed(0),
                    dtype=torch.float64)
    from ase_rm.testing import evaluate

    for r, expected in ((0.25, 3.0 * (0.5 / 0.25 - 1) ** 2), (0.6, 0.0)):
        atoms = Atoms("H2", positions=[[0, 0, 0], [0, 0, r]])
        e = [float(evaluate(Potential(m), [atoms])["energy"][0]) for m in (plain, core)]
        assert e[1] - e[0] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    with pytest.raises(ConfigError, match="core_radius"):
        HCO.replace(core_radius=5.0)


def test_energy_label_is_the_potential_of_the_force_label() -> None:
    """-d(energy)/dx equals the force label (no label noise), by central differences."""
    frame = Frame.from_atoms(molecule("CH3OH"))
    cfg = MOL_NOISE.replace(repulsion_rc=1.2)  # so that some pairs repel
    noisy = noise_frame(frame, cfg, 8.0, 0.0, np.random.default_rng(1))
    assert noisy.energy > 0
    h = 1e-5

    def energy_at(atom: int, axis: int, delta: float) -> float:
        disp = noisy.displacement.copy()
        disp[atom, axis] += delta
        moved = Frame(frame.positions + disp, frame.numbers, frame.cell, frame.pbc)
        return 0.5 * cfg.k * float(np.sum(disp**2)) + repulsion(moved, cfg)[0] - repulsion(frame, cfg)[0]

    for atom, axis in ((0, 0), (3, 2)):
        fd = -(energy_at(atom, axis, h) - energy_at(atom, axis, -h)) / (2 * h)
        assert fd == pytest.approx(noisy.forces[atom, axis], abs=1e-6)


def test_crystal_energy_label_is_the_potential_of_the_force_and_stress_labels() -> None:
    """Crystals: -dE/dx is the force label (positions moved at a fixed cell), and at zero
    displacement dE/deps is V0 times the stress label (second Piola-Kirchhoff of the Lame law)."""
    from ase_rm.noise import strain_energy

    atoms = bulk("C", "diamond", a=3.3, cubic=True)
    frame = Frame.from_atoms(atoms)
    cfg = NOISE_PRESETS["crystal"].replace(repulsion_rc=1.6)  # so that some pairs repel
    noisy = noise_frame(frame, cfg, 8.0, 0.06, np.random.default_rng(3))
    cell = noisy.frame.cell
    affine = noisy.frame.positions - noisy.displacement
    assert noisy.energy > strain_energy(frame.cell, cell, cfg) > 0
    h = 1e-5

    def energy_at(atom: int, axis: int, delta: float) -> float:
        disp = noisy.displacement.copy()
        disp[atom, axis] += delta
        moved = Frame(affine + disp, frame.numbers, cell, frame.pbc)
        return (0.5 * cfg.k * float(np.sum(disp**2)) + repulsion(moved, cfg)[0] - repulsion(frame, cfg)[0]
                + strain_energy(frame.cell, cell, cfg))

    assert energy_at(0, 0, 0.0) == pytest.approx(noisy.energy, rel=1e-12)
    for atom, axis in ((0, 0), (5, 2)):
        fd = -(energy_at(atom, axis, h) - energy_at(atom, axis, -h)) / (2 * h)
        assert fd == pytest.approx(noisy.forces[atom, axis], abs=1e-6)
    c0, v0 = frame.cell, abs(np.linalg.det(frame.cell))
    eps = np.array([[0.03, 0.01, 0.0], [0.01, -0.02, 0.005], [0.0, 0.005, 0.04]])
    lam, mu = cfg.lame
    sigma = lam * np.trace(eps) * np.eye(3) + 2 * mu * eps

    def w(e: np.ndarray) -> float:  # the cell whose Green strain is e: C0 (I + 2e)^(1/2)
        vals, vecs = np.linalg.eigh(np.eye(3) + 2 * e)
        return strain_energy(c0, c0 @ (vecs * np.sqrt(vals)) @ vecs.T, cfg)

    for a, b in ((0, 0), (0, 1), (2, 2)):
        step = np.zeros((3, 3))
        step[a, b] = step[b, a] = h
        fd = (w(eps + step) - w(eps - step)) / (2 * h) / (1 if a == b else 2)
        assert fd == pytest.approx(v0 * sigma[a, b], rel=1e-6)


def test_static_noise_reuses_the_first_draw_and_references_join_the_batch() -> None:
    fresh = NoisyDataset(mols(), MOL_NOISE, seed=0)
    static = NoisyDataset(mols(), MOL_NOISE, seed=0, static=True, references=True)
    assert np.array_equal(static.frame(5, 3).forces, fresh.frame(5, 0).forces)
    assert not np.array_equal(fresh.frame(5, 3).forces, fresh.frame(5, 0).forces)
    batch = next(iter(static.batches(1, 3, 3.0, torch.float64)))
    assert batch.n_frames == 3 and batch.energy is not None
    assert batch.forces.shape[0] == int(batch.graph.n_atoms[:3].sum())


def test_frames_of_one_structure_share_one_reference_in_the_batch() -> None:
    """The energy-difference loss's references join the batch once per structure, and each
    frame's difference is E~(frame) - E~(its own structure), as if every frame had its copy."""
    data = NoisyDataset(mols(), MOL_NOISE, seed=0, references=True)
    noisy = [data.frame(i, 0) for i in (0, 4, 1, 5, 2)]  # molecules 0, 1, 0, 1, 0
    assert [n.source for n in noisy] == [0, 1, 0, 1, 0]
    batch = collate(noisy, 3.0, torch.float64, "cpu", [data.frames[n.source] for n in noisy])
    assert batch.graph.n_structures == 5 + 2 and batch.reference is not None
    assert batch.reference.tolist() == [5, 6, 5, 6, 5]
    potential = Potential(Denoiser(HCO, torch.Generator().manual_seed(0), dtype=torch.float64))
    _, sums = batch_loss(potential, batch, 1.0, 0.0, False, energy_weight=1.0)
    e_frames = potential(build_graph([n.frame for n in noisy], 3.0, torch.float64, "cpu"))[keys.ENERGY]
    e_refs = potential(build_graph([data.frames[n.source] for n in noisy], 3.0, torch.float64, "cpu"))[keys.ENERGY]
    atoms = torch.tensor([len(n.frame) for n in noisy], dtype=torch.float64)
    de = (e_frames - e_refs - torch.tensor([n.energy for n in noisy], dtype=torch.float64)) / atoms
    assert sums["e_sq"] == pytest.approx(float((de * de).sum()), rel=1e-10)


def test_signal_excludes_compositions_by_heavy_atoms() -> None:
    structures = [molecule(n) for n in ("CH3OH", "C2H6", "CH4", "H2O")]
    spec = SignalSpec("converged", compositions=10, exclude=("CO", "O"))
    chosen = choose_compositions(structures, spec)
    assert sorted(chosen) == ["C2H6", "CH4"]
    assert heavy_atoms("C5H9NO") == heavy_atoms("C5NO") == (("C", 5), ("N", 1), ("O", 1))
    with pytest.raises(ConfigError, match="no validation composition"):
        choose_compositions(structures, SignalSpec("converged", exclude=("CO", "O", "C2", "C")))
    with pytest.raises(ConfigError, match="unknown generation signal"):
        get_scorer("no-such-signal")


def test_training_with_the_signal_keeps_best_by_it_and_stops_at_the_time_limit(tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=6, batch_size=4, warmup_epochs=1, dtype="float64", valid_fraction=0.0,
                      energy_weight=100.0, static_noise=True, signal="converged", signal_attempts=2,
                      signal_compositions=2)
    result = train(mols(), tmp_path / "run", HCO, MOL_NOISE, cfg, valid_structures=mols()[:2], progress=False,
                   time_limit=0.0)
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 1  # stopped after the first epoch
    assert 0.0 <= rows[0]["gen_score"] <= 1.0 and rows[0]["gen_seconds"] > 0
    assert np.isfinite(rows[0]["val_energy_rmse"]) and np.isfinite(rows[0]["train_energy_rmse"])
    summary = torch.load(result.best_checkpoint, weights_only=True)["training_summary"]
    assert summary["selected_by"] == "generation signal" and summary["best_signal_epoch"] == 0
    assert (tmp_path / "run" / "best_loss.pt").exists()
    resumed = train(mols(), tmp_path / "run", HCO, MOL_NOISE, cfg, valid_structures=mols()[:2], progress=False,
                    resume=True, time_limit=0.0)
    assert len(resumed.history) == 2


def test_molecule_strain_scales_the_molecule_and_the_label_restores_it() -> None:
    cfg = MOL_NOISE.replace(strain_scales=(-0.4,), repulsion_m=0.0)
    atoms = molecule("C2H6")
    ds = NoisyDataset([atoms], cfg, seed=0)
    noisy = ds.frame(1, 0)  # level 2
    x0 = atoms.positions
    assert noisy.strain_scale == -0.4
    moved = noisy.frame.positions - x0
    np.testing.assert_allclose(noisy.forces, -cfg.k * moved, atol=1e-12)
    assert noisy.energy == pytest.approx(0.5 * cfg.k * float(np.sum(moved**2)))
    spread = np.linalg.norm(noisy.frame.positions - noisy.frame.positions.mean(0), axis=1).mean()
    assert spread < 0.8 * np.linalg.norm(x0 - x0.mean(0), axis=1).mean()  # compressed
    plain = NoisyDataset([atoms], MOL_NOISE, seed=0).frame(1, 0)
    assert plain.strain_scale == 0.0
