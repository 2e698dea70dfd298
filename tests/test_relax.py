"""Batched relaxation: ASE's FIRE (and FrechetCellFilter) reproduced structure by
structure, batch-independent, deterministic, converged structures frozen."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.build import bulk, molecule
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE

from ase_rm import ConfigError, InvalidStructureError, Potential, RMCalculator, UnknownElementError, load_potential
from ase_rm.checkpoint import atomic_save, make_checkpoint
from ase_rm.graph import Frame, neighbour_list
from ase_rm.keys import RM_CONVERGED, RM_ENERGY, RM_STEPS
from ase_rm.relaxation import (
    FireParams,
    NeighbourLists,
    RelaxOptions,
    concat_states,
    fire_init,
    fire_step,
    iter_relax,
    pop_finished,
    relax,
    relax_init,
    relax_step,
    results,
    select,
)

from .conftest import tiny_model

FMAX = 2e-3
STEPS = 300


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models on a shared 2-core machine: intra-op threads only contend (8x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("relax") / "tiny.pt"
    atomic_save(make_checkpoint(tiny_model()), path)
    return path


@pytest.fixture(scope="module")
def potential(checkpoint: Path) -> Potential:
    return load_potential(checkpoint, dtype=torch.float64)[0]


def molecules() -> list[Atoms]:
    out = []
    for seed, name in enumerate(["CH4", "H2O", "CH3OH"]):
        atoms = molecule(name)
        atoms.rattle(0.1, seed=seed)
        out.append(atoms)
    return out


def crystals() -> list[Atoms]:
    cubic = bulk("C", "diamond", a=3.6, cubic=True)
    cubic.rattle(0.05, seed=0)
    primitive = bulk("C", "diamond", a=3.5)
    primitive.rattle(0.05, seed=2)
    primitive.cell[0, 1] += 0.1  # a triclinic start
    return [cubic, primitive]


def ase_fire(atoms: Atoms, checkpoint: Path, cell: str | None, pressure: float = 0.0) -> tuple[Atoms, int]:
    atoms = atoms.copy()
    atoms.calc = RMCalculator.from_checkpoint(checkpoint, dtype=torch.float64)
    target = atoms if cell is None else FrechetCellFilter(
        atoms, constant_volume=cell == "constant_volume", hydrostatic_strain=cell == "hydrostatic",
        scalar_pressure=pressure)
    opt = FIRE(target, logfile=None)
    opt.run(fmax=FMAX, steps=STEPS)
    return atoms, opt.nsteps


@pytest.mark.parametrize(
    ("cell", "pressure", "n_crystals"),
    # ASE's filter is the slow part (scipy expm_frechet): the cubic cell only once
    [(None, 0.0, 0), ("full", 0.0, 2), ("constant_volume", 0.0, 1), ("hydrostatic", 0.0, 1), ("full", 0.01, 1)],
)
def test_same_minima_and_steps_as_ase_fire(potential: Potential, checkpoint: Path, cell: str | None,
                                          pressure: float, n_crystals: int) -> None:
    starts = molecules() if cell is None else crystals()[-n_crystals:]
    ours = relax(potential, starts, fmax=FMAX, steps=STEPS, cell=cell, pressure=pressure)  # type: ignore[arg-type]
    for start, got in zip(starts, ours, strict=True):
        ref, n_steps = ase_fire(start, checkpoint, cell, pressure)
        assert got.info[RM_CONVERGED] and got.info[RM_STEPS] == n_steps < STEPS
        assert got.info[RM_ENERGY] == pytest.approx(ref.get_potential_energy(), abs=1e-8)
        assert np.allclose(got.positions, ref.positions, atol=1e-7)
        assert np.allclose(got.cell.array, ref.cell.array, atol=1e-7)
        assert np.array_equal(got.pbc, start.pbc)
    if cell == "constant_volume":
        assert [a.get_volume() for a in ours] == pytest.approx([a.get_volume() for a in starts], rel=1e-9)


@pytest.mark.parametrize("pressure", [0.0, 0.02])
def test_variable_cell_ends_at_the_target_stress(checkpoint: Path, potential: Potential, pressure: float) -> None:
    fmax = 1e-3
    for atoms in relax(potential, crystals(), fmax=fmax, steps=STEPS, cell="full", pressure=pressure):
        assert atoms.info[RM_CONVERGED]
        check = atoms.copy()
        check.calc = RMCalculator.from_checkpoint(checkpoint, dtype=torch.float64)
        residual = check.get_stress(voigt=False) + pressure * np.eye(3)
        # the cell rows are (about) virial / n_atoms = -V (stress + p) / n_atoms
        assert np.abs(residual).max() * atoms.get_volume() / len(atoms) < 1.5 * fmax
        assert np.linalg.norm(check.get_forces(), axis=1).max() < 1.5 * fmax


def test_batched_equals_one_at_a_time(potential: Potential) -> None:
    starts = molecules() + [molecule("NH3"), molecule("C2H6")]
    alone = [relax(potential, [a], fmax=FMAX, steps=STEPS)[0] for a in starts]
    together = relax(potential, starts, fmax=FMAX, steps=STEPS)
    pooled = relax(potential, iter(starts), fmax=FMAX, steps=STEPS, max_atoms_per_batch=9)  # refills
    for a, b, c in zip(alone, together, pooled, strict=True):
        assert a.info[RM_STEPS] == b.info[RM_STEPS] == c.info[RM_STEPS]
        assert np.allclose(a.positions, b.positions, atol=1e-10)
        assert np.allclose(a.positions, c.positions, atol=1e-10)
        assert b.info[RM_ENERGY] == pytest.approx(a.info[RM_ENERGY], abs=1e-10)


def test_same_input_same_output_and_inputs_untouched(potential: Potential) -> None:
    starts = crystals()
    before = [a.copy() for a in starts]
    first = relax(potential, starts, fmax=FMAX, steps=50, cell="full")
    second = relax(potential, starts, fmax=FMAX, steps=50, cell="full")
    for a, b, s, s0 in zip(first, second, starts, before, strict=True):
        assert np.array_equal(a.positions, b.positions) and np.array_equal(a.cell, b.cell)
        assert a.info == b.info
        assert s == s0 and not s.info and s.calc is None


def test_converged_structures_stop_moving(potential: Potential) -> None:
    options = RelaxOptions(fmax=FMAX, steps=STEPS)
    done = relax(potential, molecules()[:1], fmax=FMAX)[0]
    state = relax_init(potential, [done, molecules()[1]], options, tags=["done", "moving"])
    assert state.converged.tolist() == [True, False]
    x0 = state.x[: len(done)].clone()
    for _ in range(3):
        state = relax_step(potential, state, options)
    assert torch.equal(state.x[: len(done)], x0) and state.steps.tolist() == [0, 3]
    state, finished = pop_finished(state, options)
    assert [tag for tag, _ in finished] == ["done"] and state.tags == ["moving"]
    assert finished[0][1].info[RM_STEPS] == 0


def test_fire_caps_each_structures_own_step() -> None:
    params = FireParams(maxstep=0.2)
    batch = torch.tensor([0, 0, 1, 1])
    x = torch.zeros(4, 3, dtype=torch.float64)
    forces = torch.tensor([[50.0, 0, 0], [0, 50, 0], [0.1, 0, 0], [0, 0, 0]], dtype=torch.float64)
    new, state = fire_step(fire_init(4, 2, params), x, forces, batch, params=params)
    assert new[:2].norm() == pytest.approx(0.2)  # the whole step vector of structure 0
    alone, _ = fire_step(fire_init(2, 1, params), x[2:], forces[2:], batch[2:] - 1, params=params)
    assert torch.equal(new[2:], alone)  # structure 1 is not scaled by structure 0
    frozen, _ = fire_step(state, new, forces, batch, active=torch.tensor([False, True]), params=params)
    assert torch.equal(frozen[:2], new[:2])


def test_float32_model_keeps_float64_coordinates(checkpoint: Path, potential: Potential) -> None:
    pot32 = load_potential(checkpoint, dtype=torch.float32)[0]
    (a32,) = relax(pot32, molecules()[:1], fmax=1e-2)
    (a64,) = relax(potential, molecules()[:1], fmax=1e-2)
    assert a32.positions.dtype == np.float64 and a32.info[RM_CONVERGED]
    assert a32.info[RM_ENERGY] == pytest.approx(a64.info[RM_ENERGY], abs=1e-4)


def test_bad_input_gets_one_clear_error(potential: Potential) -> None:
    with pytest.raises(InvalidStructureError, match="3-D periodic"):
        relax(potential, molecules()[:1], cell="full")
    with pytest.raises(UnknownElementError, match="Si"):
        relax(potential, [Atoms("CSi", positions=[[0, 0, 0], [0, 0, 1.5]])])
    with pytest.raises(ConfigError, match="cell must be"):
        RelaxOptions(cell="diagonal")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="pressure needs a variable cell"):
        relax(potential, molecules()[:1], pressure=0.1)
    with pytest.raises(ConfigError, match="skin"):
        RelaxOptions(skin=-0.1)


def test_iter_relax_yields_every_input_once(potential: Potential) -> None:
    starts = molecules()
    got = list(iter_relax(potential, starts, RelaxOptions(fmax=1e-2), max_atoms_per_batch=1))
    assert sorted(i for i, _ in got) == [0, 1, 2]


def shaken_crystals() -> list[Atoms]:
    """crystals() rattled hard: their lists are rebuilt during a relaxation."""
    out = []
    for seed, atoms in enumerate(crystals()):
        atoms.rattle(0.3, seed=10 + seed)
        out.append(atoms)
    return out


def relax_in_place(potential: Potential, starts: list[Atoms], options: RelaxOptions) -> tuple[list[Atoms], list[int]]:
    """relax_step until all are done, nothing popped (finished structures sit out: the partial-batch path).

    Returns the results and how many times each structure's neighbour list was built."""
    state = relax_init(potential, starts, options)
    while not bool(state.finished(options.steps).all()):
        state = relax_step(potential, state, options)
    return results(state), state.neighbours.builds.tolist()


def assert_same_results(got: list[Atoms], ref: list[Atoms]) -> None:
    for a, b in zip(got, ref, strict=True):
        assert a.info[RM_STEPS] == b.info[RM_STEPS] and a.info[RM_CONVERGED] == b.info[RM_CONVERGED]
        assert a.info[RM_ENERGY] == pytest.approx(b.info[RM_ENERGY], abs=1e-10)
        assert np.allclose(a.positions, b.positions, rtol=0, atol=1e-9)
        assert np.allclose(a.cell.array, b.cell.array, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("kind", "cell", "pressure"),
    [("molecules", None, 0.0), ("crystals", None, 0.0), ("crystals", "constant_volume", 0.0),
     ("crystals", "full", 0.05)],  # pressure: the cells shrink to about 0.6 of their volume
)
def test_skin_changes_nothing_but_the_number_of_builds(potential: Potential, kind: str, cell: str | None,
                                                      pressure: float) -> None:
    if kind == "molecules":
        starts = molecules() + [molecule("C2H6")]
        starts[-1].rattle(0.4, seed=5)
    else:
        starts = shaken_crystals() if pressure == 0.0 else crystals()
    options = RelaxOptions(fmax=FMAX, steps=STEPS, cell=cell, pressure=pressure)  # type: ignore[arg-type]
    ref, every_step = relax_in_place(potential, starts, replace(options, skin=0.0))
    got, builds = relax_in_place(potential, starts, options)
    assert options.skin == 0.5
    assert_same_results(got, ref)
    steps = [a.info[RM_STEPS] for a in got]
    assert all(b >= n for b, n in zip(every_step, steps, strict=True))  # skin 0: a build per evaluation
    assert max(builds) > 1  # rebuilt during the run ...
    assert sum(builds) < sum(steps) / 3  # ... but mostly reused


def test_skin_with_pool_refill(potential: Potential) -> None:
    starts = molecules() + [molecule("NH3"), molecule("C2H6")]
    ref = relax(potential, starts, fmax=FMAX, steps=STEPS, skin=0.0)
    pooled = relax(potential, iter(starts), fmax=FMAX, steps=STEPS, max_atoms_per_batch=9)  # refills
    assert_same_results(pooled, ref)
    crystal_starts = shaken_crystals() + crystals()
    ref = relax(potential, crystal_starts, fmax=FMAX, steps=STEPS, cell="full", skin=0.0)
    pooled = relax(potential, crystal_starts, fmax=FMAX, steps=STEPS, cell="full", max_atoms_per_batch=10)
    assert_same_results(pooled, ref)


def edge_set(edge_index: torch.Tensor | np.ndarray, shifts: torch.Tensor | np.ndarray) -> set[tuple[int, ...]]:
    rows = np.concatenate([np.asarray(edge_index).T, np.rint(np.asarray(shifts))], axis=1).astype(int)
    return {tuple(r) for r in rows.tolist()}


def fresh_edges(positions: np.ndarray, cell: np.ndarray, pbc: bool, cutoff: float) -> set[tuple[int, ...]]:
    frame = Frame(positions, np.ones(len(positions), dtype=np.int64), cell, np.array([pbc] * 3))
    i, j, s = neighbour_list(frame, cutoff)
    return edge_set(np.stack([i, j]), s)


def reused_edges(lists: NeighbourLists, positions: np.ndarray, cell: np.ndarray, pbc: bool, cutoff: float,
                 skin: float, variable_cell: bool) -> set[tuple[int, ...]] | None:
    """The cached list filtered to ``cutoff`` at new coordinates; None if the list is stale there."""
    pos, cells = torch.as_tensor(positions), torch.as_tensor(cell)[None]
    batch = torch.zeros(len(positions), dtype=torch.int64)
    if bool(lists.stale(pos, cells, batch, cutoff, skin, variable_cell)[0]):
        return None
    return edge_set(*lists.within(pos, cells if pbc else None, cutoff))


def build_lists(positions: np.ndarray, cell: np.ndarray, pbc: bool, cutoff: float) -> NeighbourLists:
    return NeighbourLists.build(torch.as_tensor(positions), torch.as_tensor(cell)[None],
                                torch.tensor([[pbc] * 3]), torch.tensor([len(positions)]), cutoff)


def test_a_pair_just_outside_the_skin_is_never_missed() -> None:
    rc, skin = 3.0, 0.5
    outside = (rc + skin) * (1 + 1e-9)  # not in the list built with rc + skin
    # two atoms approaching each other: d = skin / 2 is the limit
    start = np.array([[0.0, 0.0, 0.0], [outside, 0.0, 0.0]])
    lists = build_lists(start, np.zeros((3, 3)), False, rc + skin)
    assert lists.edge_index.shape[1] == 0
    for factor, stale in [(1 - 1e-6, False), (1 + 1e-6, True)]:
        d = skin / 2 * factor
        moved = start + np.array([[d, 0, 0], [-d, 0, 0]])
        fresh = fresh_edges(moved, np.zeros((3, 3)), False, rc)
        assert bool(fresh) == stale  # beyond the limit the pair is within rc ...
        got = reused_edges(lists, moved, np.zeros((3, 3)), False, rc, skin, False)
        assert (got is None) == stale and (got is None or got == fresh)  # ... and the list is rebuilt
    # an atom and its own image along x in a shrinking cell: eps = skin / (rc + skin) is the limit
    cell = np.diag([outside, 2.5 * outside, 3.0 * outside])
    lists = build_lists(np.zeros((1, 3)), cell, True, rc + skin)
    assert lists.edge_index.shape[1] == 0
    for factor, stale in [(1 - 1e-6, False), (1 + 1e-6, True)]:
        shrunk = cell * (1 - skin / (rc + skin) * factor)
        fresh = fresh_edges(np.zeros((1, 3)), shrunk, True, rc)
        assert bool(fresh) == stale
        got = reused_edges(lists, np.zeros((1, 3)), shrunk, True, rc, skin, True)
        assert (got is None) == stale and (got is None or got == fresh)


@pytest.mark.parametrize("variable_cell", [False, True])
def test_reused_lists_equal_fresh_ones(variable_cell: bool) -> None:
    """Random moves (and strains) of a triclinic crystal: a list the test keeps gives vesin's edges."""
    rc, skin = 3.0, 0.6
    rng = np.random.default_rng(0)
    cell = np.array([[4.0, 0.0, 0.0], [1.1, 3.7, 0.0], [0.6, -0.8, 4.4]])
    frac = rng.uniform(0, 1, (6, 3))
    start = frac @ cell
    lists = build_lists(start, cell, True, rc + skin)
    reused = 0
    for _ in range(200):
        strain = np.eye(3)
        if variable_cell:
            strain = strain + rng.normal(size=(3, 3)) * rng.uniform(0, 0.06)
        shift = rng.normal(size=(6, 3)) * rng.uniform(0, 0.15)  # Cartesian, through the start cell
        new_cell = cell @ strain
        moved = (frac + shift @ np.linalg.inv(cell)) @ new_cell
        got = reused_edges(lists, moved, new_cell, True, rc, skin, variable_cell)
        if got is not None:
            reused += 1
            assert got == fresh_edges(moved, new_cell, True, rc)
    assert 50 < reused < 200  # both branches taken


def test_neighbour_lists_follow_select_and_concat(potential: Potential) -> None:
    options = RelaxOptions(fmax=FMAX, steps=STEPS, cell="full")
    first = relax_init(potential, shaken_crystals(), options, tags=["a", "b"])
    for _ in range(5):
        first = relax_step(potential, first, options)
    second = relax_init(potential, crystals(), options, tags=["c", "d"])
    pool = concat_states([first, second])
    pool = select(pool, torch.tensor([False, True, True, False]))
    positions, cells = pool.positions_and_cells()
    got = edge_set(*pool.neighbours.within(positions, cells, potential.cutoff))
    offsets = np.cumsum([0] + pool.n_atoms.tolist())
    want = set()
    for s in range(len(pool)):
        pos = positions[offsets[s]:offsets[s + 1]].numpy()
        want |= {(i + offsets[s], j + offsets[s], *shift)
                 for i, j, *shift in fresh_edges(pos, cells[s].numpy(), True, potential.cutoff)}
    assert got == want and pool.tags == ["b", "c"]


@pytest.mark.benchmark
def test_benchmark_batched_vs_ase_serial(checkpoint: Path, potential: Potential,
                                         record_property: pytest.RecordProperty) -> None:
    """32 small molecules, fmax 1e-3: structures/s batched vs ase.optimize.FIRE one by one.

    Run with ``python -m pytest -m benchmark tests/test_relax.py -rA -o junit_family=xunit1``
    (OPENBLAS_NUM_THREADS=1 on a shared machine); the rates land in the test's properties.
    """
    import time

    names = ["CH4", "H2O", "NH3", "C2H6", "CH3OH"]
    starts = []
    for seed in range(32):
        atoms = molecule(names[seed % len(names)])
        atoms.rattle(0.1, seed=seed)
        starts.append(atoms)
    t0 = time.perf_counter()
    ours = relax(potential, starts, fmax=1e-3, steps=500)
    t_batched = time.perf_counter() - t0
    calc = RMCalculator.from_checkpoint(checkpoint, dtype=torch.float64)
    t0 = time.perf_counter()
    steps = []
    for start in starts:
        atoms = start.copy()
        atoms.calc = calc
        opt = FIRE(atoms, logfile=None)
        opt.run(fmax=1e-3, steps=500)
        steps.append(opt.nsteps)
    t_serial = time.perf_counter() - t0
    record_property("batched_structures_per_s", len(starts) / t_batched)
    record_property("ase_serial_structures_per_s", len(starts) / t_serial)
    assert [a.info[RM_STEPS] for a in ours] == steps
    assert t_batched < t_serial
