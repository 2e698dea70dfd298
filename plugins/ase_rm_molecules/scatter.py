"""Scatter plots of E~ against the reference energy (like Fig. 1a of the paper).

Uses ``matplotlib.figure.Figure`` with the Agg canvas; pyplot's global state
is never touched.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ase_rm.outputs import atomic_path

from .correlation import format_r, pearson
from .energies import EnergyTable


def _axis_label(table: EnergyTable, per_atom: bool) -> str:
    unit = table.unit or "as stored"
    return f"{table.key}{' / atom' if per_atom else ''} ({unit}{'/atom' if per_atom and table.unit else ''})"


def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike[str], dpi: int) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:  # never half a picture
        fig.savefig(tmp, dpi=dpi, format=out.suffix.lstrip(".") or "png")
    return out


def _locator(n: int) -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(n)


def plot_energy_scatter(table: EnergyTable, path: str | os.PathLike[str], title: str | None = None,
                        dpi: int = 150) -> Path:
    """E~ per molecule (eV) against the reference energy, coloured by the number of atoms, R in the title.

    Args:
        table: the energies (at least one molecule).
        path: the image file to write (format from the suffix).
        title: text before the R in the title (default: the number of molecules).
        dpi: resolution of the saved image.

    Returns:
        The path written.
    """
    if len(table) == 0:
        raise ValueError("cannot draw a scatter plot of no molecules")
    r = pearson(table.pseudo, table.reference)
    fig = _figure((5.2, 4.2))
    ax = fig.add_subplot()
    points = ax.scatter(table.reference, table.pseudo, c=table.n_atoms, s=4, cmap="viridis", linewidths=0)
    fig.colorbar(points, ax=ax, label="atoms per molecule")
    ax.xaxis.set_major_locator(_locator(6))
    ax.set_xlabel(_axis_label(table, per_atom=False))
    ax.set_ylabel("pseudo energy E~ (eV)")
    ax.set_title(f"{title or f'{len(table)} molecules'}: R = {format_r(r)}")
    return _save(fig, path, dpi)


def plot_composition_scatter(table: EnergyTable, formulas: Sequence[str], path: str | os.PathLike[str],
                             columns: int = 3, dpi: int = 150) -> Path:
    """Small multiples: per-atom E~ against the per-atom reference, one panel per formula, R in each title.

    Args:
        table: the energies.
        formulas: the compositions to draw, in order (e.g. the most common ones).
        path: the image file to write.
        columns: panels per row.
        dpi: resolution of the saved image.

    Returns:
        The path written.

    Raises:
        ValueError: no formulas, or a formula with no molecule in ``table``.
    """
    if not formulas:
        raise ValueError("no compositions to draw")
    names = np.array(table.formula, dtype=object)
    missing = [f for f in formulas if not np.any(names == f)]
    if missing:
        raise ValueError(f"no molecules of {', '.join(missing)} in the table")
    columns = max(1, min(columns, len(formulas)))
    rows = math.ceil(len(formulas) / columns)
    fig = _figure((3.0 * columns + 0.4, 2.7 * rows + 0.4))
    axes = fig.subplots(rows, columns, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(formulas):
            ax.set_visible(False)
            continue
        mask = names == formulas[k]
        x = table.reference[mask] / table.n_atoms[mask]
        y = table.pseudo[mask] / table.n_atoms[mask]
        ax.scatter(x, y, s=5, linewidths=0)
        ax.set_title(f"{formulas[k]} (n={int(mask.sum())}): R = {format_r(pearson(x, y))}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.xaxis.set_major_locator(_locator(5))
        if k % columns == 0:
            ax.set_ylabel("E~ / atom (eV/atom)", fontsize=8)
        if k // columns == rows - 1 or k + columns >= len(formulas):
            ax.set_xlabel(_axis_label(table, per_atom=True), fontsize=8)
    return _save(fig, path, dpi)
