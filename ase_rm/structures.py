"""Structure input: conversion to ASE Atoms, validation, and reading files.

Accepted inputs: ASE ``Atoms``, anything with ``to_ase_atoms()`` (pymatgen
``Structure``/``Molecule``; the core never imports pymatgen), and files:
anything ``ase.io.read`` reads (gzip included), an ASE database (``.db``),
a folder of CIFs, or the MP-20 CSV layout (a ``cif`` column).
"""

from __future__ import annotations

__all__ = [
    "as_atoms",
    "check_atoms",
    "read_structures",
    "structures_from",
]


import csv
import gzip
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from .errors import InvalidStructureError, RMError, UnknownElementError
from .graph import SHORT_RANGE_LIST_CUTOFF

COINCIDENT_DISTANCE = 1e-2
"""Å: two atoms closer than this are treated as being at the same position."""


def as_atoms(obj: Any) -> Atoms:
    """An ASE ``Atoms`` (copied) from Atoms or a pymatgen Structure/Molecule."""
    if isinstance(obj, Atoms):
        return obj.copy()
    if hasattr(obj, "to_ase_atoms"):
        atoms = obj.to_ase_atoms()
        return Atoms(atoms) if type(atoms) is not Atoms else atoms
    raise InvalidStructureError(
        f"cannot use a {type(obj).__name__} as a structure; pass ase.Atoms or a pymatgen Structure/Molecule"
    )


def check_atoms(atoms: Atoms, species: Sequence[int] | None = None, label: str = "structure") -> None:
    """Raise one clear error if ``atoms`` cannot be given to a model.

    Checks: not empty, finite positions and cell, a non-degenerate cell along
    periodic directions, no coincident atoms (periodic images included), and,
    if ``species`` is given, only known elements.
    """
    if len(atoms) == 0:
        raise InvalidStructureError(f"{label} is empty (0 atoms)")
    pos = atoms.positions
    if not np.all(np.isfinite(pos)):
        bad = int(np.where(~np.isfinite(pos).all(axis=1))[0][0])
        raise InvalidStructureError(f"{label} has a non-finite (NaN or inf) position, atom {bad}")
    if not np.all(np.isfinite(atoms.cell.array)):
        raise InvalidStructureError(f"{label} has a non-finite cell")
    pbc = np.asarray(atoms.pbc)
    if pbc.any():
        rows = atoms.cell.array[pbc]
        if np.linalg.matrix_rank(rows) < int(pbc.sum()):
            raise InvalidStructureError(f"{label} is periodic along {pbc.tolist()} but its cell is degenerate")
    if species is not None:
        unknown = sorted(set(atoms.numbers.tolist()) - set(species))
        if unknown:
            raise UnknownElementError(
                f"{label} contains {', '.join(_symbol(z) for z in unknown)}, which the model was not "
                f"trained on; it knows {' '.join(_symbol(z) for z in species)}"
            )
    _check_coincident(atoms, label)


def _symbol(z: int) -> str:
    return chemical_symbols[z] if 0 <= z < len(chemical_symbols) else f"Z={z}"


def _check_coincident(atoms: Atoms, label: str) -> None:
    from vesin import NeighborList

    pbc = np.asarray(atoms.pbc)
    box = atoms.cell.array if pbc.any() else np.zeros((3, 3))
    nl = NeighborList(cutoff=max(COINCIDENT_DISTANCE, SHORT_RANGE_LIST_CUTOFF), full_list=False)
    i, j, d = nl.compute(atoms.positions, box, pbc.tolist(), quantities="ijd")
    close = d < COINCIDENT_DISTANCE
    i, j = i[close], j[close]
    if len(i):
        same = i == j
        what = "its own periodic image" if same[0] else f"atom {int(j[0])}"
        raise InvalidStructureError(
            f"{label}: atom {int(i[0])} sits on {what} (closer than {COINCIDENT_DISTANCE} Å)"
        )


def read_structures(path: str | os.PathLike[str], index: str = ":") -> list[Atoms]:
    """Read equilibrium structures from a file or folder (see module doc)."""
    p = Path(path)
    if not p.exists():
        raise RMError(f"no such file or folder: {p}")
    try:
        if p.is_dir():
            cifs = sorted(p.glob("*.cif"))
            if not cifs:
                raise RMError(f"folder {p} holds no *.cif files")
            return [_read_ase(c, ":")[0] for c in cifs]
        name = p.name.lower()
        if name.endswith((".csv", ".csv.gz")):
            return _read_cif_csv(p)
        if name.endswith(".db"):
            from ase.db import connect

            return [row.toatoms() for row in connect(str(p)).select()]
        return _read_ase(p, index)
    except RMError:
        raise
    except Exception as exc:  # ase.io raises many kinds of errors
        raise RMError(f"could not read structures from {p}: {type(exc).__name__}: {exc}") from exc


def _read_ase(p: Path, index: str) -> list[Atoms]:
    import ase.io

    if p.suffix == ".gz":
        inner = p.name[:-3]
        fmt = "extxyz" if inner.endswith((".xyz", ".extxyz")) else None
        if fmt is None:
            from ase.io.formats import filetype

            fmt = filetype(inner, read=False)
        with gzip.open(p, "rt") as fh:  # decompress once: ase.io seeks, and seeking gzip re-reads it
            text = io.StringIO(fh.read())
        out = ase.io.read(text, index=index, format=fmt)
    else:
        out = ase.io.read(str(p), index=index)
    frames = out if isinstance(out, list) else [out]
    if not frames:
        raise RMError(f"{p} holds no structures")
    return frames


def _read_cif_csv(p: Path) -> list[Atoms]:
    import ase.io

    opener = gzip.open if p.name.endswith(".gz") else open
    with opener(p, "rt", newline="") as fh:  # type: ignore[operator]
        reader = csv.DictReader(fh)
        if not reader.fieldnames or "cif" not in reader.fieldnames:
            raise RMError(f"{p} has no 'cif' column (columns: {reader.fieldnames})")
        out = []
        for row in reader:
            atoms = ase.io.read(io.StringIO(row["cif"]), format="cif", index=0)
            assert isinstance(atoms, Atoms)
            if "material_id" in row:
                atoms.info["material_id"] = row["material_id"]
            out.append(atoms)
    return out


def structures_from(items: Any) -> list[Atoms]:
    """A list of Atoms from a path, one structure, or an iterable of structures."""
    if isinstance(items, (str, os.PathLike)):
        return read_structures(items)
    if isinstance(items, Atoms) or hasattr(items, "to_ase_atoms"):
        return [as_atoms(items)]
    if isinstance(items, Iterable):
        return [as_atoms(x) for x in items]
    raise InvalidStructureError(f"cannot read structures from a {type(items).__name__}")
