"""Relax ASE structures with torch-sim's batched FIRE on an RMModel.

:func:`torchsim_relax` runs ``torch_sim.optimize`` the way ase_rm's own engine
(:func:`ase_rm.relaxation.relax`) runs a pool, with the same criteria: FIRE as ASE
has it (``md_flavor="ase_fire"``, the same maxstep), ASE's Frechet cell filter
for a variable cell (``torch_sim.frechet_cell_fire``, cell factor = atoms per
structure), convergence when the largest row of the generalized forces is
below ``fmax`` (atom rows F_i @ D, D the deformation gradient, and the cell
rows), checked after every step, and a per-structure step limit; converged
structures leave the batch and waiting ones enter (torch-sim's
InFlightAutoBatcher, bounded by ``max_atoms_per_batch``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch_sim as ts
from ase import Atoms
from torch_sim.autobatching import InFlightAutoBatcher
from torch_sim.optimizers import fire
from torch_sim.state import SimState

from .model import RMModel

CELL_MODES = (None, "full", "constant_volume", "hydrostatic")
RM_ENERGY, RM_CONVERGED, RM_STEPS = "rm_energy", "rm_converged", "rm_steps"
"""The result keys of ase_rm's engine (``ase_rm.keys``), with the same meaning."""


def generalized_fmax(state: SimState) -> torch.Tensor:
    """(n_systems,) largest row norm of the generalized forces (ASE's filter criterion)."""
    forces = state.forces  # type: ignore[attr-defined]
    idx = state.system_idx
    cell_forces = getattr(state, "cell_forces", None)
    if cell_forces is not None:
        deform = state.deform_grad()  # type: ignore[attr-defined]
        forces = torch.bmm(forces.unsqueeze(1), deform[idx]).squeeze(1)
    norms = forces.norm(dim=1)
    out = torch.zeros(state.n_systems, dtype=norms.dtype, device=norms.device)
    out = out.scatter_reduce(0, idx, norms, "amax", include_self=True)
    if cell_forces is not None:
        out = torch.maximum(out, cell_forces.norm(dim=2).amax(dim=1))
    return out


def _convergence(fmax: float) -> Callable[[SimState, Any], torch.Tensor]:
    def converged(state: SimState, last_energy: Any = None) -> torch.Tensor:
        return generalized_fmax(state) < fmax

    return converged


def torchsim_relax(
    model: RMModel,
    structures: Sequence[Atoms],
    fmax: float = 0.05,
    steps: int = 500,
    cell: str | None = None,
    maxstep: float = 0.2,
    dt: float = 0.1,
    dt_max: float = 1.0,
    max_atoms_per_batch: int = 4096,
) -> list[Atoms]:
    """Relax ``structures`` (not modified) with torch-sim's batched ASE-flavoured FIRE.

    Args:
        model: the RM model.
        structures: all periodic (pbc True) or all molecules (pbc False): torch-sim
            keeps one pbc flag per batch.
        fmax: convergence threshold on the generalized forces, eV/Å.
        steps: most FIRE steps per structure.
        cell: None (positions only) or a Frechet cell filter mode: "full",
            "constant_volume" or "hydrostatic".
        maxstep: cap on the norm of one structure's step vector, Å.
        dt, dt_max: initial and largest FIRE time step.
        max_atoms_per_batch: the in-flight batch's bound.

    Returns:
        Relaxed copies in input order with ``info["rm_energy"]`` (eV),
        ``info["rm_converged"]`` and ``info["rm_steps"]``.
    """
    if cell not in CELL_MODES:
        raise ValueError(f"cell must be one of {CELL_MODES}, got {cell!r}")
    if not structures:
        return []
    common: dict[str, Any] = dict(max_step=maxstep, dt_start=dt, dt_max=dt_max, md_flavor="ase_fire")
    if cell is None:
        optimizer: Callable[..., Any] = fire
    else:
        optimizer = ts.frechet_cell_fire
        common.update(constant_volume=cell == "constant_volume", hydrostatic_strain=cell == "hydrostatic")
    batcher = InFlightAutoBatcher(model, memory_scales_with="n_atoms",
                                  max_memory_scaler=float(max(max_atoms_per_batch, *map(len, structures))))
    with warnings.catch_warnings():  # torch-sim warns when its global step count passes max_steps
        warnings.filterwarnings("ignore", message="Optimize has reached max steps")
        final = ts.optimize(system=list(structures), model=model, optimizer=optimizer,
                            convergence_fn=_convergence(fmax), autobatcher=batcher, max_steps=steps,
                            steps_between_swaps=1, **common)
    return _results(final, structures, fmax, batcher.swap_attempts)


def _results(final: SimState, structures: Sequence[Atoms], fmax: float, steps: list[int]) -> list[Atoms]:
    energies = final.energy.tolist()  # type: ignore[attr-defined]
    converged = (generalized_fmax(final) < fmax).tolist()
    out = []
    for s, (atoms, relaxed) in enumerate(zip(structures, final.split(), strict=True)):
        new = atoms.copy()
        new.set_cell(relaxed.row_vector_cell[0].detach().cpu().numpy(), scale_atoms=False)
        new.positions = relaxed.positions.detach().cpu().numpy()
        new.info.update({RM_ENERGY: float(energies[s]), RM_CONVERGED: bool(converged[s]), RM_STEPS: int(steps[s])})
        out.append(new)
    return out
