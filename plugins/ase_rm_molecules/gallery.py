"""A picture of representative generated molecules: ``molecules.png`` beside the tables.

Per composition (in input order), the representatives are the distinct
molecules (by canonical SMILES) the evaluation perceived, best first: those
that count as passing the paper's checks, then converged ones, then by E~ per
atom (``rm_energy``, when present). Each is drawn as a 2D depiction of its
SMILES (RDKit), one row per composition (as many columns as the fullest row), with its formula, SMILES, E~ per atom
and whether it passes the checks as legend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from ase import Atoms
from rdkit import Chem
from rdkit.Chem import Draw

from ase_rm import keys

from .evaluate import MoleculeRecord

PER_GROUP = 4
"""Molecules drawn per composition (one row)."""

MAX_GROUPS = 12
"""Compositions drawn (rows); the first ones in input order."""

SIZE = (260, 220)
"""Pixels per molecule (width, height)."""


def _energy(atoms: Atoms) -> float:
    value = atoms.info.get(keys.RM_ENERGY)
    return math.inf if value is None or math.isnan(float(value)) else float(value) / len(atoms)


def representatives(frames: Sequence[Atoms], records: Sequence[MoleculeRecord], per_group: int = PER_GROUP,
                    max_groups: int = MAX_GROUPS, unconverged_fail: bool = True) -> list[list[MoleculeRecord]]:
    """Up to ``per_group`` distinct perceived molecules of each of the first ``max_groups``
    compositions, best first (see the module docstring); compositions with none are left out."""
    groups: dict[str, list[MoleculeRecord]] = {}
    for record in records:
        groups.setdefault(record.group, []).append(record)
    rows = []
    for members in groups.values():
        perceived = [r for r in members if r.smiles]
        perceived.sort(key=lambda r: (not r.counted("all_pass", unconverged_fail), not r.converged,
                                      _energy(frames[r.index]), r.index))
        chosen: dict[str, MoleculeRecord] = {}
        for record in perceived:
            chosen.setdefault(str(record.smiles), record)
        if chosen:
            rows.append(list(chosen.values())[:per_group])
        if len(rows) == max_groups:
            break
    return rows


def _legend(atoms: Atoms, record: MoleculeRecord, unconverged_fail: bool) -> str:
    energy = _energy(atoms)
    verdict = "passes" if record.counted("all_pass", unconverged_fail) else "fails"
    figure = f"E~ {energy:.3f} eV/atom, " if math.isfinite(energy) else ""
    return f"{record.group} #{record.index}: {figure}{verdict}\n{record.smiles}"


def draw_representatives(frames: Sequence[Atoms], records: Sequence[MoleculeRecord], path: str | Path,
                         per_group: int = PER_GROUP, max_groups: int = MAX_GROUPS,
                         unconverged_fail: bool = True) -> Path | None:
    """Write the grid of :func:`representatives` to ``path`` (PNG); None when no frame was
    perceived (nothing to draw, no file written)."""
    rows = representatives(frames, records, per_group, max_groups, unconverged_fail)
    if not rows:
        return None
    columns = max(len(row) for row in rows)
    mols, legends = [], []
    for row in rows:
        for k in range(columns):  # a short row is padded, so each composition starts a row
            record = row[k] if k < len(row) else None
            mol = Chem.MolFromSmiles(str(record.smiles)) if record is not None else None
            mols.append(mol if mol is not None else Chem.Mol())
            legends.append(_legend(frames[record.index], record, unconverged_fail) if record is not None else "")
    image = Draw.MolsToGridImage(mols, molsPerRow=columns, subImgSize=SIZE, legends=legends)
    out = Path(path)
    if isinstance(image, bytes | bytearray):  # RDKit without PIL in a notebook context returns PNG bytes
        out.write_bytes(image)
    else:
        image.save(out, format="PNG")
    return out
