"""ase_rm_torchsim: the RM potential as a torch-sim model.

Checked against the ASE calculator (energies, forces, stress of batched
molecules and crystals, with the shipped models) and against ase_rm's own
batched engine (torch-sim's ASE-flavoured FIRE, and its Frechet cell filter,
reach the same minima from the same starts).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from ase.stress import voigt_6_to_full_3x3_stress

pytest.importorskip("torch_sim", reason="torch-sim-atomistic is not installed (pip install ase-rm[torchsim])")

import torch_sim as ts  # noqa: E402
from ase_rm_torchsim import RMModel, generalized_fmax, torchsim_relax  # noqa: E402
from torch_sim.models.interface import validate_model_outputs  # noqa: E402

from ase_rm import RMCalculator, load_potential  # noqa: E402
from ase_rm.relaxation import relax  # noqa: E402

F64 = torch.float64


def _molecules() -> list[Atoms]:
    rng = np.random.default_rng(0)
    out = []
    for name in ("CH3CH2OH", "CH3CONH2"):
        atoms = molecule(name)
        atoms.positions += rng.normal(0.0, 0.05, atoms.positions.shape)
        out.append(atoms)
    return out


def _crystals() -> list[Atoms]:
    salt = bulk("NaCl", "rocksalt", a=5.5)
    salt.rattle(0.05, seed=1)
    perovskite = Atoms("KZnF3", scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5],
                                                  [0, 0.5, 0.5]], cell=np.diag([4.1, 4.0, 4.2]) + 0.2, pbc=True)
    perovskite.rattle(0.05, seed=2)
    return [salt, perovskite]


def _reference(name: str, structures: list[Atoms], stress: bool) -> list[dict[str, np.ndarray]]:
    calc = RMCalculator.from_checkpoint(name, dtype=F64)
    out = []
    for atoms in structures:
        atoms = atoms.copy()
        atoms.calc = calc
        ref = {"energy": np.array(atoms.get_potential_energy()), "forces": atoms.get_forces()}
        if stress:
            ref["stress"] = voigt_6_to_full_3x3_stress(atoms.get_stress())
        out.append(ref)
    return out


@pytest.mark.parametrize(("name", "structures", "periodic"), [("qm7b", _molecules, False), ("mp20", _crystals, True)])
def test_batched_state_matches_ase_calculator(name: str, structures, periodic: bool) -> None:
    frames = structures()
    model = RMModel(name, dtype=F64)
    state = ts.io.atoms_to_state(frames, model.device, F64)
    before = state.positions.clone(), state.cell.clone()
    out = model(state)
    assert torch.equal(state.positions, before[0]) and torch.equal(state.cell, before[1])
    assert out["energy"].shape == (2,) and out["forces"].shape == (sum(map(len, frames)), 3)
    assert ("stress" in out) == periodic
    counts = np.cumsum([len(a) for a in frames])[:-1]
    for s, (ref, forces) in enumerate(zip(_reference(name, frames, periodic),
                                          np.split(out["forces"].numpy(), counts), strict=True)):
        assert float(out["energy"][s]) == pytest.approx(float(ref["energy"]), abs=1e-8)
        np.testing.assert_allclose(forces, ref["forces"], atol=1e-8)
        assert np.abs(ref["forces"]).max() > 1e-3  # the starts are off their minima
        if periodic:
            np.testing.assert_allclose(out["stress"][s].numpy(), ref["stress"], atol=1e-9)
            assert np.abs(ref["stress"]).max() > 1e-5


def test_torch_sim_model_contract() -> None:
    """torch-sim's own check: output keys and shapes, batched == single, input untouched."""
    validate_model_outputs(RMModel("mp20", dtype=F64), torch.device("cpu"), F64)


def test_potential_of_another_dtype_is_refused() -> None:
    potential, _ = load_potential("diamond", dtype=torch.float32)
    with pytest.raises(ValueError, match="float32"):
        RMModel(potential, dtype=F64)
    with pytest.raises(ValueError, match="cell must be one of"):
        torchsim_relax(RMModel(potential, dtype=torch.float32), [bulk("C")], cell="volume")


def _sorted_distances(atoms: Atoms) -> np.ndarray:
    return np.sort(atoms.get_all_distances(mic=bool(atoms.pbc.any())).ravel())


def _same_minima(ours: list[Atoms], theirs: list[Atoms]) -> None:
    for a, b in zip(ours, theirs, strict=True):
        assert a.info["rm_converged"] and b.info["rm_converged"]
        assert abs(a.info["rm_steps"] - b.info["rm_steps"]) <= 3  # the same FIRE, to round-off
        assert a.info["rm_energy"] == pytest.approx(b.info["rm_energy"], abs=1e-5)
        np.testing.assert_allclose(a.cell.lengths(), b.cell.lengths(), atol=1e-3)
        np.testing.assert_allclose(_sorted_distances(a), _sorted_distances(b), atol=2e-3)


def test_same_molecule_minima_as_our_engine() -> None:
    potential, _ = load_potential("qm7b", dtype=F64)
    starts = _molecules()
    ours = relax(potential, starts, fmax=1e-3, steps=300)
    theirs = torchsim_relax(RMModel(potential, dtype=F64), starts, fmax=1e-3, steps=300)
    _same_minima(ours, theirs)
    assert all(a.info["rm_steps"] > 10 for a in theirs)
    for atoms in theirs:  # the reported energy is the model's at the returned coordinates
        atoms.calc = RMCalculator.from_checkpoint("qm7b", dtype=F64)
        assert atoms.get_potential_energy() == pytest.approx(atoms.info["rm_energy"], abs=1e-8)


@pytest.mark.parametrize("cell", ["full", "constant_volume"])
def test_same_crystal_minima_with_cell_filter(cell: str) -> None:
    potential, _ = load_potential("diamond", dtype=F64)
    starts = []
    for seed in range(1):  # torch-sim's cell filter is slow on CPU (docs/torchsim.md): one start
        atoms = bulk("C", "diamond", a=3.55, cubic=True)
        atoms.rattle(0.08, seed=seed)
        atoms.set_cell(atoms.cell.array @ (np.eye(3) + 0.03 * np.random.default_rng(seed).normal(size=(3, 3))),
                       scale_atoms=True)
        starts.append(atoms)
    ours = relax(potential, starts, fmax=1e-4, steps=400, cell=cell)
    theirs = torchsim_relax(RMModel(potential, dtype=F64), starts, fmax=1e-4, steps=400, cell=cell)
    _same_minima(ours, theirs)
    volumes = [a.get_volume() for a in theirs]
    if cell == "constant_volume":
        np.testing.assert_allclose(volumes, [a.get_volume() for a in starts], rtol=1e-6)
    else:
        assert all(abs(v - s.get_volume()) > 0.1 for v, s in zip(volumes, starts, strict=True))


def test_generalized_fmax_is_the_largest_force_row() -> None:
    model = RMModel("qm7b", dtype=F64)
    frames = _molecules()
    state = ts.io.atoms_to_state(frames, model.device, F64)
    state.forces = model(state)["forces"]  # type: ignore[attr-defined]
    counts = np.cumsum([len(a) for a in frames])[:-1]
    expected = [np.linalg.norm(f, axis=1).max() for f in np.split(state.forces.numpy(), counts)]  # type: ignore[attr-defined]
    np.testing.assert_allclose(generalized_fmax(state).numpy(), expected)


@pytest.mark.benchmark
def test_benchmark_side_by_side_runs() -> None:
    """benchmarks/bench_torchsim.py on a few starts: both engines take the same FIRE
    (force calls per structure within 10 %). Rates: run the script (docs/torchsim.md)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_torchsim.py"
    spec = importlib.util.spec_from_file_location("bench_torchsim", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(["--n", "4", "--cases", "molecules,carbon", "--threads", "1"])
    for row in rows:
        ours, theirs = row["ours"][1], row["torchsim"][1]
        assert abs(ours - theirs) <= 0.1 * ours, row
