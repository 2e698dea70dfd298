"""Reference structures from a CSV with a CIF column (the shared CSP and Li-S tables), with clear errors."""

from __future__ import annotations

import csv
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Structure

from ase_rm import RMError

MATCH_TOLERANCES = {"stol": 0.5, "ltol": 0.3, "angle_tol": 10.0}
"""StructureMatcher tolerances of the paper's CSP and Li-S evaluations (docs/method.md section 5)."""


def paper_matcher() -> StructureMatcher:
    """StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10), otherwise pymatgen's defaults.

    The defaults include ``primitive_cell=True`` and ``scale=True``: both
    structures are reduced to primitive cells and scaled to the same volume, so a
    6-atom Sr2O4 cell matches the 3-atom SrO2 ground truth.
    """
    tol = MATCH_TOLERANCES
    return StructureMatcher(stol=tol["stol"], ltol=tol["ltol"], angle_tol=tol["angle_tol"])


def read_table(path: str | os.PathLike[str], required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts.

    Raises:
        RMError: the file is missing, not a CSV with a header, lacks a required column, or has no rows.
    """
    p = Path(path)
    if not p.is_file():
        raise RMError(f"CSV file {str(p)!r} not found")
    try:
        with open(p, newline="") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise RMError(f"{p} is not a readable CSV file ({exc})") from exc
    missing = [c for c in required if c not in columns]
    if missing:
        raise RMError(f"{p} has no column {', '.join(missing)} (columns: {', '.join(columns) or 'none'})")
    if not rows:
        raise RMError(f"{p} has a header but no rows")
    return rows


def parse_cif(text: str, where: str) -> Structure:
    """One structure from CIF text; ``where`` names it in the error message."""
    try:
        with warnings.catch_warnings():  # pymatgen warns about benign CIF quirks (e.g. rounded occupancies)
            warnings.simplefilter("ignore")
            structure = Structure.from_str(text, fmt="cif")
    except Exception as exc:  # pymatgen raises ValueError, KeyError, IndexError... on bad CIF text
        raise RMError(f"{where}: the CIF does not parse ({type(exc).__name__}: {exc})") from exc
    if len(structure) == 0:
        raise RMError(f"{where}: the CIF has no atoms")
    return structure
