"""ase_rm's entry points with pymatgen objects in and out: noising, evaluation, relaxation, generation.

Each function takes ``Structure``/``Molecule`` (or ASE Atoms) and returns
pymatgen objects whose ``properties`` carry ase_rm's keys (``rm_energy`` eV,
``rm_converged``, ``rm_steps``; see :mod:`ase_rm.keys`) plus this plugin's
(``rm_energy_per_atom``, ``rm_spacegroup``, ...; see :mod:`.analysis`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from ase_rm import NOISE_PRESETS, NoiseConfig
from ase_rm.data import noise_structures as _core_noise
from ase_rm.relaxation import relax
from ase_rm.rss import Protocol, attempts_for, expand_compositions, get_protocol, search

from .analysis import RM_ENERGY_PER_ATOM, SYMPREC, annotate, find_duplicates
from .convert import ModelLike, PymatgenObject, calculator_for, load_model, to_atoms, to_atoms_list, to_pymatgen

log = logging.getLogger(__name__)

RM_TIMES_FOUND = "rm_times_found"
"""properties key: how many generated structures matched this one (itself included) (int)."""


def noise_structures(
    structures: Any, noise: str | NoiseConfig = "crystal", seed: int = 0, epoch: int = 0
) -> list[PymatgenObject]:
    """Every noisy training frame of one epoch, as pymatgen objects.

    Args:
        structures: equilibrium structures (Structure/Molecule/Atoms, or a list).
        noise: a NoiseConfig or a preset name ("crystal", "molecule").
        seed: seed of the noise draws.
        epoch: which epoch's frames.

    Returns:
        Noisy frames; the target forces (eV/Å) are the site property
        ``rm_forces``, the noise level and stress (eV/Å^3, Voigt) are
        ``properties`` (``rm_noise_level``, ``rm_stress``).
    """
    config = NOISE_PRESETS[noise] if isinstance(noise, str) else noise
    return [to_pymatgen(a) for a in _core_noise(to_atoms_list(structures), config, seed=seed, epoch=epoch)]


def predict(structure: Any, model: ModelLike, dtype: torch.dtype = torch.float32) -> dict[str, Any]:
    """E~, forces and (crystals) stress of one structure through RMCalculator.

    Args:
        structure: a Structure, Molecule or Atoms.
        model: checkpoint path, shipped name, or an RMCalculator (reused; pass one for many calls).
        dtype: torch dtype when loading a checkpoint.

    Returns:
        ``{"energy": eV, "energy_per_atom": eV/atom, "forces": (n, 3) eV/Å,
        "stress": (6,) eV/Å^3 Voigt with ASE sign, crystals only}``.
    """
    atoms = to_atoms(structure)
    atoms.calc = calculator_for(model, dtype=dtype)
    energy = float(atoms.get_potential_energy())
    out: dict[str, Any] = {"energy": energy, "energy_per_atom": energy / len(atoms),
                           "forces": np.array(atoms.get_forces())}
    if atoms.pbc.all():
        out["stress"] = np.array(atoms.get_stress())
    return out


def relax_structures(
    structures: Any,
    model: ModelLike,
    fmax: float = 0.01,
    steps: int = 1000,
    cell: str | None = None,
    symprec: float = SYMPREC,
    device: str = "cpu",
    **relax_kwargs: Any,
) -> list[PymatgenObject]:
    """Relax structures on E~ with ase_rm's batched FIRE.

    Args:
        structures: Structure/Molecule/Atoms or a list of them (not modified).
        model: checkpoint path, shipped name or RMCalculator.
        fmax: force threshold, eV/Å.
        steps: most FIRE steps.
        cell: None (positions only), "full", "constant_volume" or "hydrostatic".
        symprec: space-group tolerance of the annotation, Å.
        device: torch device for a checkpoint.
        **relax_kwargs: passed to :func:`ase_rm.relaxation.relax` (pressure, maxstep, ...).

    Returns:
        Relaxed copies in input order with ``rm_energy``, ``rm_converged``,
        ``rm_steps``, ``rm_energy_per_atom`` and (crystals) ``rm_spacegroup``.
    """
    potential, _ = load_model(model, device=device)
    results = relax(potential, to_atoms_list(structures), fmax=fmax, steps=steps,
                    cell=cell, **relax_kwargs)  # type: ignore[arg-type]
    return [_annotated(a, symprec) for a in results]


def _annotated(atoms: Any, symprec: float) -> PymatgenObject:
    obj = to_pymatgen(atoms)
    obj.properties.update(annotate(obj, symprec))
    return obj


def generate_structures(
    model: ModelLike,
    composition: str | Sequence[str],
    n: int | None = None,
    protocol: str | Protocol = "crystal",
    seed: int = 0,
    volume_per_atom: float | tuple[float, float] | None = None,
    formula_units: int = 1,
    dedupe: bool = True,
    matcher: StructureMatcher | None = None,
    symprec: float = SYMPREC,
    device: str = "cpu",
    progress: bool = False,
) -> list[PymatgenObject]:
    """Random structure search on E~: relaxed structures ranked by E~ per atom.

    Args:
        model: checkpoint path, shipped name (e.g. ``"mp20"``) or RMCalculator.
        composition: a formula such as "KZnF3", or several.
        n: random starts per composition (default: the protocol's).
        protocol: "crystal", "diamond", "molecule" or a :class:`ase_rm.rss.Protocol`.
        seed: seeds every start and kick (same seed, same structures).
        volume_per_atom: crystal start volume, Å^3/atom, or a (low, high) range;
            default: the protocol's, else the checkpoint's fitted element volumes.
        formula_units: multiply each composition by this.
        dedupe: drop crystals that StructureMatcher finds equal to a lower-E~ one.
        matcher: the StructureMatcher (default tolerances otherwise).
        symprec: space-group tolerance, Å.
        device: torch device.
        progress: a progress bar.

    Returns:
        ``Structure`` s (``Molecule`` s for the molecule protocol), lowest E~
        per atom first, with ``rm_energy`` (eV), ``rm_energy_per_atom``,
        ``rm_converged``, ``rm_spacegroup``, ``rm_spacegroup_number`` and, with
        ``dedupe``, ``rm_times_found``. Molecules are not de-duplicated.
    """
    potential, meta = load_model(model, device=device)
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    if isinstance(volume_per_atom, tuple):
        proto = replace(proto, start=replace(proto.start, volume_per_atom=None, volume_range=volume_per_atom))
    elif volume_per_atom is not None:
        proto = replace(proto, start=replace(proto.start, volume_per_atom=float(volume_per_atom), volume_range=None))
    formulas = [composition] if isinstance(composition, str) else list(composition)
    comps = [c for f in formulas for c in expand_compositions(f, formula_units=formula_units)]
    atoms = search(potential, attempts_for(comps, proto, n), proto, seed=seed,
                   element_volumes=meta.get("volume_fit") or None, progress=progress)
    found = sorted((_annotated(a, symprec) for a in atoms), key=lambda s: s.properties[RM_ENERGY_PER_ATOM])
    if not dedupe or not all(isinstance(s, Structure) for s in found):
        return found
    unique = _unique(found, matcher)  # type: ignore[arg-type]
    log.info("%d structures generated, %d unique", len(found), len(unique))
    return unique


def _unique(crystals: list[Structure], matcher: StructureMatcher | None) -> list[PymatgenObject]:
    """The lowest-E~ member of each StructureMatcher group (input order kept), with ``rm_times_found``."""
    duplicate_of = find_duplicates(crystals, matcher)
    unique: list[PymatgenObject] = []
    for k, crystal in enumerate(crystals):
        if duplicate_of[k] < 0:
            crystal.properties[RM_TIMES_FOUND] = 1 + duplicate_of.count(k)
            unique.append(crystal)
    return unique
