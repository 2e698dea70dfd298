"""pymatgen <-> ASE conversion, and loading a model from a name, a path or a calculator.

``atoms.info`` travels to ``Structure.properties`` / ``Molecule.properties``
and back; per-atom ``atoms.arrays`` (e.g. ``rm_forces``) travel as site
properties. 3-D periodic Atoms become a ``Structure``; non-periodic Atoms a
``Molecule``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import torch
from ase import Atoms
from pymatgen.core import Molecule, Structure
from pymatgen.io.ase import AseAtomsAdaptor

from ase_rm import InvalidStructureError, Potential, RMCalculator, as_atoms, load_potential

PymatgenObject = Structure | Molecule
"""What the pymatgen-facing functions return."""

ModelLike = str | os.PathLike[str] | RMCalculator
"""A checkpoint path, a shipped model name, or a loaded :class:`ase_rm.RMCalculator`."""


def to_pymatgen(atoms: Atoms) -> PymatgenObject:
    """A ``Structure`` (3-D periodic) or ``Molecule`` (no periodicity) from ASE Atoms.

    Args:
        atoms: the structure (not modified). ``info`` becomes ``properties``.

    Raises:
        InvalidStructureError: partly periodic structures (slabs, wires).
    """
    pbc = atoms.pbc
    if pbc.all():
        return AseAtomsAdaptor.get_structure(atoms)
    if not pbc.any():
        return AseAtomsAdaptor.get_molecule(atoms)
    raise InvalidStructureError(
        f"pymatgen has no object for a structure periodic along {pbc.tolist()}; "
        "use a 3-D periodic cell or none"
    )


def to_atoms(obj: Any) -> Atoms:
    """ASE Atoms (a copy) from a pymatgen ``Structure``/``Molecule`` or Atoms.

    ``properties`` become ``info`` (so ``rm_energy`` and friends survive a round trip).
    """
    atoms = as_atoms(obj)
    props = getattr(obj, "properties", None)
    if props:
        atoms.info.update(props)
    return atoms


def to_atoms_list(structures: Any) -> list[Atoms]:
    """ASE Atoms from one structure or an iterable of them (Atoms or pymatgen)."""
    if isinstance(structures, (Atoms, Structure, Molecule)):
        return [to_atoms(structures)]
    if isinstance(structures, Iterable):
        return [to_atoms(s) for s in structures]
    raise InvalidStructureError(f"expected a structure or a list of structures, not a {type(structures).__name__}")


def load_model(
    model: ModelLike, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[Potential, dict[str, Any]]:
    """A :class:`ase_rm.Potential` and the checkpoint metadata.

    Args:
        model: checkpoint path, shipped name (e.g. ``"diamond"``) or an RMCalculator
            (its potential and metadata are reused; ``device`` and ``dtype`` are ignored).
        device: torch device for a checkpoint.
        dtype: torch float dtype for a checkpoint.
    """
    if isinstance(model, RMCalculator):
        return model.potential, dict(model.metadata)
    return load_potential(model, device=device, dtype=dtype)


def calculator_for(
    model: ModelLike, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32
) -> RMCalculator:
    """An RMCalculator for a checkpoint path or name (returned as is if already one)."""
    if isinstance(model, RMCalculator):
        return model
    return RMCalculator.from_checkpoint(model, device=device, dtype=dtype)
