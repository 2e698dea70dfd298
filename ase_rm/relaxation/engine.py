"""Batched relaxation: FIRE on a pool of structures, optionally with a Frechet cell filter.

Layers: :func:`relax_init` / :func:`relax_step` advance a :class:`RelaxState`
(per-structure optimiser state, step count, convergence flag; init/step pairs
as torch-sim), with :func:`concat_states` and :func:`pop_finished` for callers
with their own refill logic (random structure search); :func:`iter_relax`
runs a pool bounded by ``max_atoms_per_batch``; :func:`relax` is list in, list out.
Every structure follows the trajectory ``ase.optimize.FIRE`` (on
``FrechetCellFilter`` for a variable cell) gives it alone, whatever else is in
the batch. Coordinates are float64 whatever the model's dtype. Neighbour
lists are Verlet lists (:mod:`.neighbours`): built by vesin with a skin,
rebuilt only when a structure has moved too far, and filtered to the cutoff
before every evaluation, so the model sees the edges a fresh list would give.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from ase import Atoms

from .. import keys
from ..errors import ConfigError, InvalidStructureError
from ..graph import Graph
from ..potential import Potential
from ..structures import check_atoms
from .cell import CELL_MODES, CellMode, deformation, from_generalized, generalized_forces
from .fire import FireParams, FireState, fire_init, fire_step
from .neighbours import NeighbourLists

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RelaxOptions:
    """What a relaxation does.

    Attributes:
        fmax: converged when the largest row norm of the generalized forces is
            below this, eV/Å (ASE's criterion; cell rows included).
        steps: most optimiser steps per structure.
        cell: None (positions only; the cell is kept), "full",
            "constant_volume" or "hydrostatic" (Frechet cell filter; 3-D
            periodic structures only).
        pressure: external scalar pressure, eV/Å^3 (variable cell only).
        exp_cell_factor: scale of the cell coordinates; None = number of atoms.
        fire: FIRE constants (ASE defaults).
        skin: Verlet skin of the neighbour lists, Å: a list is built with
            the model's cutoff + skin and rebuilt only when a pair outside it
            could have come within the cutoff; 0 rebuilds at every step.
            Results do not depend on it beyond float round-off.
    """

    fmax: float = 0.05
    steps: int = 500
    cell: CellMode | None = None
    pressure: float = 0.0
    exp_cell_factor: float | None = None
    fire: FireParams = field(default_factory=FireParams)
    skin: float = 0.5

    def __post_init__(self) -> None:
        if self.cell is not None and self.cell not in CELL_MODES:
            raise ConfigError(f"cell must be None or one of {CELL_MODES}, got {self.cell!r}")
        if self.fmax <= 0 or self.steps < 0:
            raise ConfigError(f"need fmax > 0 and steps >= 0, got fmax={self.fmax}, steps={self.steps}")
        if self.cell is None and self.pressure != 0.0:
            raise ConfigError("pressure needs a variable cell (cell='full', 'constant_volume' or 'hydrostatic')")
        if not 0.0 <= self.skin < float("inf"):
            raise ConfigError(f"need a finite skin >= 0, got {self.skin}")


@dataclass
class RelaxState:
    """A batch of structures under relaxation (rows of a structure are contiguous).

    Each structure has n atom rows and, with a variable cell, 3 cell rows after them.

    Attributes:
        x: (n_rows, 3) float64 generalized coordinates (Å for positions).
        forces: (n_rows, 3) float64 generalized forces at ``x``.
        numbers: (n_atoms,) atomic numbers.
        n_atoms: (n_structures,) atoms per structure.
        pbc: (n_structures, 3) bool.
        orig_cell: (n_structures, 3, 3) float64 starting cells, Å.
        factor: (n_structures,) float64 exp_cell_factor.
        energy: (n_structures,) float64 energy at ``x``, eV.
        steps: (n_structures,) int64 optimiser steps taken.
        converged: (n_structures,) bool.
        fire: the FIRE state.
        neighbours: the Verlet neighbour lists.
        has_cell: whether the cell rows exist (a variable-cell relaxation).
        atoms: the input structures (copies), templates of the results.
        tags: one caller-chosen label per structure.
    """

    x: torch.Tensor
    forces: torch.Tensor
    numbers: torch.Tensor
    n_atoms: torch.Tensor
    pbc: torch.Tensor
    orig_cell: torch.Tensor
    factor: torch.Tensor
    energy: torch.Tensor
    steps: torch.Tensor
    converged: torch.Tensor
    fire: FireState
    neighbours: NeighbourLists
    has_cell: bool
    atoms: list[Atoms]
    tags: list[Any]

    def __len__(self) -> int:
        return len(self.atoms)

    @property
    def total_atoms(self) -> int:
        return int(self.n_atoms.sum())

    @property
    def atom_batch(self) -> torch.Tensor:
        """(n_atoms,) structure index of each atom."""
        return _repeat(self.n_atoms)

    @property
    def row_batch(self) -> torch.Tensor:
        """(n_rows,) structure index of each row."""
        return _repeat(self.n_atoms + 3 * int(self.has_cell))

    @property
    def cell_rows(self) -> torch.Tensor:
        """(n_rows,) bool: True for the 3 cell rows of each structure."""
        batch, ends = self.row_batch, torch.cumsum(self.n_atoms + 3 * int(self.has_cell), 0)
        return torch.arange(batch.shape[0], device=batch.device) >= ends[batch] - 3 * int(self.has_cell)

    def fmax(self) -> torch.Tensor:
        """(n_structures,) largest row norm of the generalized forces, eV/Å."""
        norms = self.forces.norm(dim=1)
        out = torch.zeros(len(self), dtype=norms.dtype, device=norms.device)
        return out.scatter_reduce(0, self.row_batch, norms, "amax", include_self=True)

    def finished(self, max_steps: int) -> torch.Tensor:
        """(n_structures,) bool: converged or out of steps."""
        return self.converged | (self.steps >= max_steps)

    def positions_and_cells(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Cartesian positions (n_atoms, 3) and cells (n_structures, 3, 3), Å, float64."""
        positions, cells, _ = _cartesian(self, self.atom_batch, self.cell_rows if self.has_cell else None)
        return positions, cells


def _repeat(counts: torch.Tensor) -> torch.Tensor:
    return torch.repeat_interleave(torch.arange(counts.shape[0], device=counts.device), counts)


def _cartesian(
    state: RelaxState, atom_batch: torch.Tensor, cell_rows: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Positions and cells of ``state`` (``positions_and_cells``) and, for a variable
    cell (``cell_rows`` given), the deformation gradients F they come from."""
    if cell_rows is None:
        return state.x, state.orig_cell, None
    log_cell = state.x[cell_rows].reshape(-1, 3, 3)
    deform = deformation(log_cell, state.factor)
    positions, cells = from_generalized(state.x[~cell_rows], log_cell, state.orig_cell, state.factor,
                                        atom_batch, deform)
    return positions, cells, deform


def _model_dtype_device(potential: Potential) -> tuple[torch.dtype, torch.device]:
    for p in itertools.chain(potential.parameters(), potential.buffers()):  # stops at the first
        if p.is_floating_point():
            return p.dtype, p.device
    return torch.float64, torch.device("cpu")


def _evaluate(potential: Potential, state: RelaxState, options: RelaxOptions) -> RelaxState:
    """``state`` with energy and generalized forces at its coordinates (stale neighbour lists rebuilt)."""
    dtype, device = _model_dtype_device(potential)
    atom_batch = state.atom_batch
    rows = state.cell_rows if state.has_cell else None
    positions, cells, deform = _cartesian(state, atom_batch, rows)
    neighbours = state.neighbours.refresh(positions, cells, state.pbc, state.n_atoms, atom_batch,
                                          potential.cutoff, options.skin, state.has_cell)
    periodic = state.pbc.any(1)
    graph_cells = torch.where(periodic[:, None, None], cells, torch.zeros_like(cells))  # as build_graph
    if options.skin > 0:
        edge_index, shifts = neighbours.within(positions, graph_cells if bool(periodic.any()) else None,
                                               potential.cutoff)
    else:  # every list in use was built at these coordinates with the cutoff itself
        edge_index, shifts = neighbours.edge_index, neighbours.shifts
    graph = Graph(
        positions=positions.to(device=device, dtype=dtype), numbers=state.numbers.to(device),
        cell=graph_cells.to(device=device, dtype=dtype),
        pbc=state.pbc.to(device), batch=atom_batch.to(device), edge_index=edge_index.to(device),
        shifts=shifts.to(device=device, dtype=dtype), n_atoms=state.n_atoms.to(device),
    )
    out = potential(graph, forces=True, stress=state.has_cell)
    f64 = state.x.dtype
    forces = out[keys.FORCES].to(device=state.x.device, dtype=f64)
    if rows is not None:
        stress = out[keys.STRESS].to(device=state.x.device, dtype=f64)
        atom_rows, cell_rows = generalized_forces(
            forces, stress, cells, state.x[rows].reshape(-1, 3, 3), state.factor,
            atom_batch, options.cell or "full", options.pressure, deform)
        forces = torch.empty_like(state.x)
        forces[~rows] = atom_rows
        forces[rows] = cell_rows.reshape(-1, 3)
    energy = out[keys.ENERGY].to(device=state.x.device, dtype=f64)
    if not torch.isfinite(energy).all() or not torch.isfinite(forces).all():
        raise FloatingPointError("the model returned a non-finite energy or force during relaxation")
    return replace(state, energy=energy, forces=forces, neighbours=neighbours)


def _check(atoms: Atoms, potential: Potential, options: RelaxOptions, label: str) -> None:
    check_atoms(atoms, getattr(getattr(potential.model, "config", None), "species", None), label)
    if atoms.constraints:
        raise InvalidStructureError(f"{label} has constraints, which relax does not support")
    if options.cell is not None and not np.asarray(atoms.pbc).all():
        raise InvalidStructureError(
            f"{label}: cell={options.cell!r} needs a 3-D periodic structure, got pbc={atoms.pbc.tolist()}")


def relax_init(
    potential: Potential,
    structures: Sequence[Atoms],
    options: RelaxOptions,
    tags: Sequence[Any] | None = None,
    device: torch.device | str | None = None,
    validate: bool = True,
) -> RelaxState:
    """Validate structures and start their relaxation (forces evaluated, 0 steps taken).

    Args:
        potential: the model (any dtype; coordinates stay float64).
        structures: ASE Atoms (not modified).
        options: what the relaxation does.
        tags: a label per structure (default 0, 1, ...), returned with its result.
        device: where the optimiser tensors live; default the model's device.
        validate: check the structures (``check_atoms``, no constraints, 3-D pbc for a cell mode).

    Raises:
        InvalidStructureError, UnknownElementError: for a structure the model cannot take.
    """
    tags = list(range(len(structures))) if tags is None else list(tags)
    if len(tags) != len(structures):
        raise ConfigError(f"got {len(tags)} tags for {len(structures)} structures")
    for atoms, tag in zip(structures, tags, strict=True):
        if validate:
            _check(atoms, potential, options, f"structure {tag}")
    device = device or _model_dtype_device(potential)[1]
    f64: dict[str, Any] = dict(dtype=torch.float64, device=device)
    n, has_cell = len(structures), options.cell is not None
    n_atoms = torch.tensor([len(a) for a in structures], dtype=torch.int64, device=device)
    factor = n_atoms.to(torch.float64) if options.exp_cell_factor is None else torch.full(
        (n,), float(options.exp_cell_factor), **f64)
    pad = np.zeros((3 * int(has_cell), 3))
    x = torch.as_tensor(np.concatenate([np.concatenate([a.positions, pad]) for a in structures]), **f64)
    pbc = torch.as_tensor(np.array([a.pbc for a in structures]), device=device)
    orig_cell = torch.as_tensor(np.array([a.cell.array for a in structures]), **f64)
    positions = torch.as_tensor(np.concatenate([a.positions for a in structures]), **f64)
    neighbours = NeighbourLists.build(positions, orig_cell, pbc, n_atoms, potential.cutoff + options.skin)
    state = RelaxState(
        x=x, forces=torch.zeros_like(x), n_atoms=n_atoms, factor=factor,
        numbers=torch.as_tensor(np.concatenate([a.numbers for a in structures]), dtype=torch.int64,
                                device=device),
        pbc=pbc, orig_cell=orig_cell,
        energy=torch.zeros(n, **f64), steps=torch.zeros(n, dtype=torch.int64, device=device),
        converged=torch.zeros(n, dtype=torch.bool, device=device),
        fire=fire_init(x.shape[0], n, options.fire, device), neighbours=neighbours,
        has_cell=has_cell, atoms=[a.copy() for a in structures], tags=tags,
    )
    state = _evaluate(potential, state, options)
    state.converged = state.fmax() < options.fmax
    return state


def select(state: RelaxState, keep: torch.Tensor) -> RelaxState:
    """The structures where ``keep`` (n_structures,) bool is True, in order."""
    row_keep, atom_keep = keep[state.row_batch], keep[state.atom_batch]
    idx = keep.nonzero()[:, 0].tolist()
    return RelaxState(
        x=state.x[row_keep], forces=state.forces[row_keep], numbers=state.numbers[atom_keep],
        n_atoms=state.n_atoms[keep], pbc=state.pbc[keep], orig_cell=state.orig_cell[keep],
        factor=state.factor[keep], energy=state.energy[keep], steps=state.steps[keep],
        converged=state.converged[keep], fire=state.fire.select(keep, row_keep),
        neighbours=state.neighbours.select(keep, atom_keep), has_cell=state.has_cell,
        atoms=[state.atoms[i] for i in idx], tags=[state.tags[i] for i in idx],
    )


def concat_states(states: Sequence[RelaxState]) -> RelaxState:
    """One state holding the structures of ``states``, in order."""
    states = [s for s in states if len(s)]
    if not states:
        raise ValueError("no non-empty states to concatenate")
    if len({s.has_cell for s in states}) > 1:
        raise ValueError("cannot mix fixed-cell and variable-cell states")
    tensors = ("x", "forces", "numbers", "n_atoms", "pbc", "orig_cell", "factor", "energy", "steps",
               "converged")
    return RelaxState(
        **{k: torch.cat([getattr(s, k) for s in states]) for k in tensors},
        fire=FireState.cat([s.fire for s in states]),
        neighbours=NeighbourLists.cat([s.neighbours for s in states]), has_cell=states[0].has_cell,
        atoms=[a for s in states for a in s.atoms], tags=[t for s in states for t in s.tags],
    )


def relax_step(potential: Potential, state: RelaxState, options: RelaxOptions) -> RelaxState:
    """One FIRE step of every unfinished structure, then its new energy and forces.

    Finished structures (converged or at ``options.steps``) do not move and are not evaluated.
    """
    active = ~state.finished(options.steps)
    if not bool(active.any()):
        return state
    x, fire = fire_step(state.fire, state.x, state.forces, state.row_batch, active, options.fire)
    state = replace(state, x=x, fire=fire, steps=state.steps + active.long())
    if bool(active.all()):  # the usual case in a pool: no selection and merge
        moved = _evaluate(potential, state, options)
        return replace(moved, converged=moved.fmax() < options.fmax)
    moved = _evaluate(potential, select(state, active), options)
    row_active = active[state.row_batch]
    forces, energy, converged = state.forces.clone(), state.energy.clone(), state.converged.clone()
    forces[row_active], energy[active], converged[active] = moved.forces, moved.energy, moved.fmax() < options.fmax
    neighbours = state.neighbours.put(active, active[state.atom_batch], moved.neighbours)
    return replace(state, forces=forces, energy=energy, converged=converged, neighbours=neighbours)


def results(state: RelaxState) -> list[Atoms]:
    """Copies of the input structures at the current coordinates, with
    ``info[RM_ENERGY]`` (eV), ``info[RM_CONVERGED]`` and ``info[RM_STEPS]``."""
    positions, cells = (t.detach().cpu().numpy() for t in state.positions_and_cells())
    out = []
    for s, (atoms, pos) in enumerate(zip(state.atoms, np.split(positions, np.cumsum(state.n_atoms.tolist())[:-1]),
                                         strict=True)):
        new = atoms.copy()
        if state.has_cell:
            new.set_cell(cells[s], scale_atoms=False)
        new.positions = pos
        new.info.update({keys.RM_ENERGY: float(state.energy[s]), keys.RM_CONVERGED: bool(state.converged[s]),
                         keys.RM_STEPS: int(state.steps[s])})
        out.append(new)
    return out


def pop_finished(state: RelaxState, options: RelaxOptions) -> tuple[RelaxState, list[tuple[Any, Atoms]]]:
    """Split off the finished structures: (the rest, [(tag, result Atoms), ...])."""
    done = state.finished(options.steps)
    if not bool(done.any()):
        return state, []
    finished = select(state, done)
    return select(state, ~done), list(zip(finished.tags, results(finished), strict=True))


def iter_relax(
    potential: Potential,
    structures: Iterable[Atoms],
    options: RelaxOptions,
    max_atoms_per_batch: int = 4096,
    progress: bool = False,
    validate: bool = True,
) -> Iterator[tuple[int, Atoms]]:
    """Relax a stream of structures in a pool; yield (input index, result) as each finishes.

    The pool holds at most ``max_atoms_per_batch`` atoms (a larger structure
    runs alone); finished structures leave it and the next inputs enter, so
    the input may be a lazy iterable. Results come in order of finishing.
    ``validate=False`` skips the structure checks (done already by the caller).
    """
    if max_atoms_per_batch < 1:
        raise ConfigError(f"max_atoms_per_batch must be >= 1, got {max_atoms_per_batch}")
    pending = enumerate(structures)
    waiting: tuple[int, Atoms] | None = next(pending, None)
    pool: RelaxState | None = None
    bar = _progress_bar(structures, progress)
    try:
        while waiting is not None or pool is not None:
            taken: list[tuple[int, Atoms]] = []
            room = max_atoms_per_batch - (pool.total_atoms if pool is not None else 0)
            while waiting is not None and (len(waiting[1]) <= room or (pool is None and not taken)):
                taken.append(waiting)
                room -= len(waiting[1])
                waiting = next(pending, None)
            if taken:
                new = relax_init(potential, [a for _, a in taken], options, [i for i, _ in taken],
                                 validate=validate)
                pool = new if pool is None else concat_states([pool, new])
                log.debug("pool: %d structures, %d atoms", len(pool), pool.total_atoms)
            assert pool is not None
            pool = relax_step(potential, pool, options)
            rest, done = pop_finished(pool, options)
            pool = rest if len(rest) else None
            for item in done:
                if bar is not None:
                    bar.update(1)
                yield item
    finally:
        if bar is not None:
            bar.close()


def _progress_bar(structures: Iterable[Atoms], progress: bool) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    total = len(structures) if isinstance(structures, Sequence) else None
    return tqdm(total=total, desc="relax", unit="structure")


def relax(
    potential: Potential,
    structures: Iterable[Atoms],
    fmax: float = 0.05,
    steps: int = 500,
    cell: CellMode | None = None,
    pressure: float = 0.0,
    maxstep: float = 0.2,
    dt: float = 0.1,
    dt_max: float = 1.0,
    exp_cell_factor: float | None = None,
    max_atoms_per_batch: int = 4096,
    progress: bool = False,
    skin: float = 0.5,
) -> list[Atoms]:
    """Relax structures with batched FIRE, as ``ase.optimize.FIRE`` would one by one.

    Args:
        potential: the model (any dtype; coordinates stay float64).
        structures: ASE Atoms (not modified); molecules keep pbc False.
        fmax: force convergence threshold, eV/Å (cell rows included, as ASE's filter).
        steps: most FIRE steps per structure.
        cell: None (positions only), "full", "constant_volume" or "hydrostatic"
            (ASE's FrechetCellFilter; 3-D periodic structures only).
        pressure: external scalar pressure, eV/Å^3 (variable cell only).
        maxstep: cap on the norm of one structure's whole step vector, Å.
        dt: initial FIRE time step.
        dt_max: largest FIRE time step.
        exp_cell_factor: cell coordinate scale; None = number of atoms (ASE's default).
        max_atoms_per_batch: memory bound of the pool.
        progress: show a progress bar.
        skin: Verlet skin of the neighbour lists, Å (0: rebuilt at every step).

    Returns:
        Relaxed copies in input order with ``info[RM_ENERGY]`` (eV),
        ``info[RM_CONVERGED]`` and ``info[RM_STEPS]``.
    """
    options = RelaxOptions(fmax=fmax, steps=steps, cell=cell, pressure=pressure,
                           exp_cell_factor=exp_cell_factor,
                           fire=FireParams(dt=dt, maxstep=maxstep, dt_max=dt_max), skin=skin)
    structures = list(structures)
    for i, atoms in enumerate(structures):  # fail before any work is done
        _check(atoms, potential, options, f"structure {i}")
    out = dict(iter_relax(potential, structures, options, max_atoms_per_batch, progress, validate=False))
    n_converged = sum(bool(a.info[keys.RM_CONVERGED]) for a in out.values())
    log.info("relaxed %d structures, %d converged", len(out), n_converged)
    return [out[i] for i in range(len(out))]
