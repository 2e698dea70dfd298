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


@pytest.mark.parametrize("name", ["qm7b", "qm7b-paper"])
def test_qm7b_ships_and_its_minima_lie_near_real_molecules(name: str) -> None:
    """The qm7b models (qm7b-paper: experiments/qm7b/train.toml; qm7b: it, fine-tuned by
    experiments/qm7b/compress.toml): relaxing rattled QM7b-like molecules on E~ returns
    close to their real geometry."""
    from ase.build import molecule

    from ase_rm.checkpoint import load_potential
    from ase_rm.relaxation import relax

    assert name in shipped_names()
    data = read_checkpoint(name)
    summary = data["training_summary"]
    assert data["species"] == [1, 6, 7, 8, 16, 17] and summary["n_valid_structures"] == 721
    assert summary["epochs_done"] == summary["best_epoch"] + 1
    assert summary["name"] == name and summary["description"]
    potential, _ = load_potential(name)
    assert sum(p.numel() for p in potential.parameters()) == 16490  # both are the paper's preset
    names = ("CH4", "C2H6", "CH3OH", "CH3CH2OH", "C6H6", "CH3CONH2", "CH3CN")  # organic, QM7b-like
    refs, starts = [], []
    for name in names:
        ref = molecule(name)
        start = ref.copy()
        start.rattle(0.05, rng=np.random.default_rng(0))
        refs.append(ref)
        starts.append(start)
    for name, ref, out in zip(names, refs, relax(potential, starts, fmax=1e-3, steps=1000), strict=True):
        assert out.info["rm_converged"], name
        # qm7b-paper (epoch 31, chosen for generation) moves CH4's distances by up to
        # 0.37 Å and ethanol's by 0.30, the other five by 0.10-0.20; qm7b moves methanol
        # and ethanol by 0.25-0.27 Å, the other five by 0.06-0.12.
        assert np.abs(out.get_all_distances() - ref.get_all_distances()).max() < 0.4, name


def test_qm7b_is_the_paper_model_fine_tuned() -> None:
    """`ase-rm info` tells the two apart: qm7b names qm7b-paper as its start and was kept
    by the generation signal, qm7b-paper by the validation loss of the published recipe."""
    new, paper = read_checkpoint("qm7b"), read_checkpoint("qm7b-paper")
    assert new["training_summary"]["init"] == "qm7b-paper"
    assert new["training_summary"]["selected_by"] == "generation signal"
    assert new["noise_config"]["strain_scales"][:3] == [-0.15, -0.1, -0.05]
    assert not paper["noise_config"]["strain_scales"]
    weights = zip(new["state_dict"].values(), paper["state_dict"].values(), strict=True)
    assert any(not (a == b).all() for a, b in weights)


def test_mp20_is_the_paper_model_trained_further() -> None:
    """mp20 starts from mp20-paper, same recipe and volume fit, kept by the csp generation signal."""
    new, paper = read_checkpoint("mp20"), read_checkpoint("mp20-paper")
    assert new["training_summary"]["init"] == "mp20-paper" and new["training_summary"]["signal"] == "csp"
    assert new["training_summary"]["selected_by"] == "generation signal"
    assert "selected_by" not in paper["training_summary"]
    old_keys = paper["model_config"]  # the newer file also spells out options added since (at their defaults)
    assert {k: new["model_config"][k] for k in old_keys} == old_keys and new["noise_config"] == paper["noise_config"]
    assert new["volume_fit"] == pytest.approx(paper["volume_fit"], rel=1e-9)  # refitted on the same data
    weights = zip(new["state_dict"].values(), paper["state_dict"].values(), strict=True)
    assert any(not (a == b).all() for a, b in weights)


def test_mp20_ships_with_a_volume_fit_and_a_sensible_metal() -> None:
    from ase.filters import FrechetCellFilter
    from ase.optimize import FIRE

    assert "mp20" in shipped_names()
    data = read_checkpoint("mp20")
    assert data["species"] == list(range(1, 95)) and len(data["volume_fit"]) >= 80
    assert data["training_summary"]["n_train_structures"] == 15455
    calc = RMCalculator.from_checkpoint("mp20")
    atoms = bulk("Cu", "fcc", a=3.61)
    atoms.calc = calc
    assert np.isfinite(atoms.get_stress()).all()
    FIRE(FrechetCellFilter(atoms), logfile=None).run(fmax=0.01, steps=500)
    assert abs(atoms.get_volume() / 11.76 - 1) < 0.05  # fcc Cu stays near its real density
