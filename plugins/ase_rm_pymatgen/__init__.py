"""ase-rm plugin: pymatgen in and out of every entry point (uses only ase_rm's public API).

Public API::

    from ase_rm_pymatgen import generate_structures, relax_structures, noise_structures, predict
    from ase_rm_pymatgen import spacegroup, find_duplicates, deduplicate, pseudo_hull, write_cifs
    from ase_rm_pymatgen import to_pymatgen, to_atoms, analyse_structures, format_table

A pymatgen user writes ``generate_structures("mp20", "KZnF3", n=30)`` and gets
relaxed, de-duplicated ``Structure`` s ranked by E~ per atom, each with its
space group in ``structure.properties``.
"""

from __future__ import annotations

from .analysis import (
    RM_DUPLICATE_OF,
    RM_E_ABOVE_HULL,
    RM_ENERGY_PER_ATOM,
    RM_SPACEGROUP,
    RM_SPACEGROUP_NUMBER,
    SYMPREC,
    deduplicate,
    energy_of,
    find_duplicates,
    pseudo_hull,
    spacegroup,
    write_cifs,
)
from .api import RM_TIMES_FOUND, generate_structures, noise_structures, predict, relax_structures
from .convert import calculator_for, load_model, to_atoms, to_atoms_list, to_pymatgen
from .summary import analyse_structures, format_table, write_csv

__all__ = [
    "RM_DUPLICATE_OF",
    "RM_ENERGY_PER_ATOM",
    "RM_E_ABOVE_HULL",
    "RM_SPACEGROUP",
    "RM_SPACEGROUP_NUMBER",
    "RM_TIMES_FOUND",
    "SYMPREC",
    "analyse_structures",
    "calculator_for",
    "deduplicate",
    "energy_of",
    "find_duplicates",
    "format_table",
    "generate_structures",
    "load_model",
    "noise_structures",
    "predict",
    "pseudo_hull",
    "relax_structures",
    "spacegroup",
    "to_atoms",
    "to_atoms_list",
    "to_pymatgen",
    "write_cifs",
    "write_csv",
]
