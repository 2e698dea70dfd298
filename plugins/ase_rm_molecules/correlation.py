"""Pearson correlations of E~ with the reference energy: over all molecules and per composition.

The paper's R = 0.98 (QM7b) is between the total E~ of each molecule and its
atomization energy, a *positive* correlation: a more negative atomization
energy (a more strongly bound, usually larger molecule) goes with a lower E~.
Much of that comes from molecular size alone, so :func:`correlations` also
reports R within each of the most common compositions, where every molecule
has the same atoms (isomers) and only the arrangement differs. There the
values are shown per atom (E~/n vs reference/n); dividing both by the same n
leaves R unchanged within a composition.
"""

from __future__ import annotations

import csv
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ase_rm.outputs import atomic_path

from .energies import EnergyTable

ALL_LABEL = "all"
"""Row label of the correlations over every molecule."""

PER_MOLECULE = "per molecule"
PER_ATOM = "per atom"

ENERGY_COLUMNS: tuple[str, ...] = ("index", "formula", "n_atoms", "e_pseudo_eV", "reference")
"""Columns of ``energies.csv`` (:func:`write_energies_csv`)."""


def pearson(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Pearson's correlation coefficient R of two samples, signed; NaN with < 2 points or a constant sample.

    Equals ``numpy.corrcoef(x, y)[0, 1]`` where that is defined, without its warnings where it is not.

    Raises:
        ValueError: the samples differ in length.
    """
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"need two 1-D samples of the same length, got shapes {a.shape} and {b.shape}")
    if len(a) < 2:
        return math.nan
    da, db = a - a.mean(), b - b.mean()
    norm = math.sqrt(float(da @ da) * float(db @ db))
    if norm == 0.0:
        return math.nan
    return float(np.clip(float(da @ db) / norm, -1.0, 1.0))


def top_compositions(formulas: Sequence[str], top: int) -> list[tuple[str, int]]:
    """The ``top`` most common formulas with their counts (ties: alphabetical), most common first."""
    if top < 0:
        raise ValueError(f"top must be >= 0, got {top}")
    counts = Counter(formulas)
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]


@dataclass(frozen=True)
class CorrelationRow:
    """One Pearson R.

    Attributes:
        label: ``"all"`` or a formula.
        n: molecules in the sample.
        quantity: ``"per molecule"`` (total E~ vs reference) or ``"per atom"`` (both divided by n_atoms).
        r: Pearson R, signed (NaN if undefined).
    """

    label: str
    n: int
    quantity: str
    r: float


def correlations(table: EnergyTable, top: int = 5) -> list[CorrelationRow]:
    """R over all molecules (per molecule and per atom), then per atom within the ``top`` most common formulas."""
    per_atom_pseudo = table.pseudo / table.n_atoms
    per_atom_ref = table.reference / table.n_atoms
    rows = [
        CorrelationRow(ALL_LABEL, len(table), PER_MOLECULE, pearson(table.pseudo, table.reference)),
        CorrelationRow(ALL_LABEL, len(table), PER_ATOM, pearson(per_atom_pseudo, per_atom_ref)),
    ]
    formulas = np.array(table.formula, dtype=object)
    for formula, count in top_compositions(table.formula, top):
        mask = formulas == formula
        rows.append(CorrelationRow(formula, count, PER_ATOM, pearson(per_atom_pseudo[mask], per_atom_ref[mask])))
    return rows


def format_r(r: float) -> str:
    """R with three decimals and its sign, ``-`` when undefined."""
    return "-" if math.isnan(r) else f"{r:+.3f}"


def format_correlations(rows: Sequence[CorrelationRow], reference: str = "reference") -> str:
    """A markdown table of the correlations (one line per row)."""
    lines = [f"| molecules | n | E~ vs {reference} | Pearson R |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row.label} | {row.n} | {row.quantity} | {format_r(row.r)} |")
    return "\n".join(lines) + "\n"


def write_energies_csv(table: EnergyTable, path: str | os.PathLike[str]) -> Path:
    """One row per molecule: index (0-based, in the data file), formula, n_atoms, E~ (eV), reference."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(ENERGY_COLUMNS)
        for k in range(len(table)):
            writer.writerow([int(table.index[k]), table.formula[k], int(table.n_atoms[k]),
                             f"{table.pseudo[k]:.6f}", f"{table.reference[k]:.6f}"])
    return out
