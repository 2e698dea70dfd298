"""A per-structure table of generated structures (what ``ase-rm analyse`` prints).

Columns: index, formula, n_atoms, E~ per atom (eV/atom), converged, space
group, duplicate_of, and optionally E~ above the pseudo hull (eV/atom) and
the pseudo-phonon check (lowest frequency in THz, stable or not).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ase import Atoms
from pymatgen.core import Structure

from ase_rm.keys import RM_CONVERGED

from .analysis import SYMPREC, energy_of, find_duplicates, pseudo_hull, spacegroup
from .convert import to_pymatgen
from .tables import format_text, write_rows

PhononCheck = Callable[[Atoms], tuple[float, bool | None]]
"""Given a crystal, its lowest pseudo-phonon frequency (THz, negative = imaginary) and whether it is
a minimum of E~ (None: not a stationary point, so no verdict)."""

COLUMNS = ("index", "formula", "n_atoms", "energy_per_atom", "converged", "spacegroup", "duplicate_of",
           "e_above_hull", "phonon_lowest_thz", "phonon_stable")
"""Every column a row may have, in table order."""


def analyse_structures(
    structures: Sequence[Atoms],
    dedupe: bool = False,
    hull: bool = False,
    phonons: PhononCheck | None = None,
    symprec: float = SYMPREC,
) -> list[dict[str, Any]]:
    """One row per structure (see module doc); crystals only get a space group, duplicates, hull, phonons.

    Args:
        structures: generated or relaxed structures (``rm_energy`` in ``info`` for energies and the hull).
        dedupe: fill ``duplicate_of`` (StructureMatcher; -1 = unique).
        hull: fill ``e_above_hull`` (needs elemental structures among ``structures``).
        phonons: a pseudo-phonon check run on every crystal (e.g. from ase_rm_phonopy).
        symprec: space-group tolerance, Å.
    """
    objs = [to_pymatgen(a) for a in structures]
    crystal_idx = [k for k, o in enumerate(objs) if isinstance(o, Structure)]
    rows = [_base_row(k, a, o, symprec) for k, (a, o) in enumerate(zip(structures, objs, strict=True))]
    if dedupe and crystal_idx:
        dups = find_duplicates([objs[k] for k in crystal_idx])  # type: ignore[misc]
        for k, d in zip(crystal_idx, dups, strict=True):
            rows[k]["duplicate_of"] = crystal_idx[d] if d >= 0 else -1
    if hull and crystal_idx:
        above = pseudo_hull([objs[k] for k in crystal_idx])  # type: ignore[misc]
        for k, e in zip(crystal_idx, above, strict=True):
            rows[k]["e_above_hull"] = e
    if phonons is not None:
        for k in crystal_idx:
            rows[k]["phonon_lowest_thz"], rows[k]["phonon_stable"] = phonons(structures[k])
    return rows


def _base_row(k: int, atoms: Atoms, obj: Any, symprec: float) -> dict[str, Any]:
    energy = energy_of(atoms)
    converged = atoms.info.get(RM_CONVERGED)
    return {
        "index": k,
        "formula": obj.composition.reduced_formula,
        "n_atoms": len(atoms),
        "energy_per_atom": None if energy is None else energy / len(atoms),
        "converged": None if converged is None else bool(converged),
        "spacegroup": spacegroup(obj, symprec)[0] if isinstance(obj, Structure) else None,
    }


def present_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The columns any row has, in :data:`COLUMNS` order."""
    return [c for c in COLUMNS if any(c in r for r in rows)]


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of the rows (missing values shown as '-')."""
    return format_text(rows, present_columns(rows))


def write_csv(rows: Sequence[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """The rows as CSV (empty cells for missing values)."""
    write_rows(rows, present_columns(rows), path)
