"""Ground truths for the standard CSP benchmark: any CSV with a CIF column, or any structure file.

A CSV (``.csv`` or ``.csv.gz``) needs a ``cif`` column; ``material_id`` names
the rows (else the row number, from 1), and an optional ``composition`` column
gives the cell to generate (e.g. "Sr2O4" for a 3-atom SrO2 truth, as in the 15
published compositions); without it the truth's own cell formula is generated,
as in DiffCSP's protocol (MP-20's test split). Any other file is read with
:func:`ase_rm.read_structures` (extxyz, a folder of CIFs, ...), ids from
``info["material_id"]`` else the frame number.

:func:`select_subset` is the documented random subset: ``size`` distinct rows drawn by
``numpy.random.default_rng(seed).choice(n_rows, size, replace=False)``, kept in file order.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from pymatgen.core import Composition, Structure

from ase_rm import RMError

from ..convert import to_pymatgen
from ..reference import parse_cif
from .campaign import canonical_formula

T = TypeVar("T")


@dataclass(frozen=True)
class GroundTruth:
    """One known crystal: its id, the cell formula to generate, and the structure."""

    csp_id: str
    composition: str
    structure: Structure


def _cell_formula(structure: Structure) -> str:
    return canonical_formula(str(structure.composition.formula).replace(" ", ""))


def _read_csv(path: Path, subset: int | None, seed: int) -> list[GroundTruth]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", newline="") as fh:  # type: ignore[operator]
            reader = csv.DictReader(io.StringIO(fh.read()))
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise RMError(f"{path} is not a readable CSV file ({exc})") from None
    if "cif" not in columns:
        raise RMError(f"{path} has no column cif (columns: {', '.join(columns) or 'none'})")
    out = []
    for k, row in select_subset(list(enumerate(rows, start=1)), subset, seed):
        csp_id = (row.get("material_id") or "").strip() or str(k)
        where = f"{path}, row {k} ({csp_id})"
        structure = parse_cif(row["cif"] or "", where)
        given = (row.get("composition") or "").strip()
        try:
            formula = canonical_formula(given) if given else _cell_formula(structure)
        except RMError as exc:
            raise RMError(f"{where}: {exc}") from None
        if Composition(formula).reduced_formula != structure.composition.reduced_formula:
            raise RMError(f"{where}: ground truth is {structure.composition.reduced_formula}, not {formula}")
        out.append(GroundTruth(csp_id, formula, structure))
    return out


def read_ground_truths(path: str | os.PathLike[str], subset: int | None = None, seed: int = 0) -> list[GroundTruth]:
    """Ground truths from a CSV or a structure file (module doc); with ``subset``, the
    :func:`select_subset` of its rows (drawn before the CIFs are parsed).

    Raises:
        RMError: a missing or unreadable file, no cif column, a CIF that does not parse,
            an unknown element, a composition that disagrees with its CIF, no rows.
    """
    from ase_rm import read_structures

    p = Path(path)
    if not p.exists():
        raise RMError(f"ground-truth file {str(p)!r} not found")
    if p.name.lower().endswith((".csv", ".csv.gz")):
        truths = _read_csv(p, subset, seed)
    else:
        truths = []
        for k, atoms in select_subset(list(enumerate(read_structures(p), start=1)), subset, seed):
            structure = to_pymatgen(atoms)
            if not isinstance(structure, Structure):
                raise RMError(f"{p}, frame {k}: not a periodic crystal")
            csp_id = str(atoms.info.get("material_id", k))
            truths.append(GroundTruth(csp_id, _cell_formula(structure), structure))
    if not truths:
        raise RMError(f"{p} holds no ground truths")
    ids = [t.csp_id for t in truths]
    if len(set(ids)) != len(ids):
        raise RMError(f"{p}: an id (material_id) is listed twice")
    return truths


def select_subset(items: Sequence[T], size: int | None, seed: int = 0) -> list[T]:
    """``size`` items drawn without replacement by ``default_rng(seed)``, in their original order
    (all of them if ``size`` is None or not smaller than the list)."""
    if size is None or size >= len(items):
        return list(items)
    if size < 1:
        raise RMError(f"the subset size must be >= 1, not {size}")
    picked = np.random.default_rng(seed).choice(len(items), size=size, replace=False)
    return [items[int(k)] for k in sorted(picked)]
