"""Heatmap of pass rates per composition and check (like Fig. 2 of the paper).

Uses ``matplotlib.figure.Figure`` with the Agg canvas; pyplot's global state
is never touched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ase_rm.outputs import atomic_path

from .checks import PAPER_CHECKS
from .report import COLUMN_LABELS

HEATMAP_COLUMNS: tuple[str, ...] = (*PAPER_CHECKS, "all_pass", "all_pass_neutral")
"""Default columns of the heatmap: the paper's checks, then the two all-pass rates."""


def plot_heatmap(
    table: pd.DataFrame,
    path: str | os.PathLike[str],
    columns: Sequence[str] = HEATMAP_COLUMNS,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Draw pass rates (%) as a heatmap, compositions as rows, checks as columns, and save a PNG.

    Args:
        table: a summary from :func:`~ase_rm_molecules.evaluate.summarise`.
        path: the image file to write (format from the suffix, e.g. ``.png``).
        columns: rate columns to show, in order.
        title: figure title (default: none).
        dpi: resolution of the saved image.

    Returns:
        The path written.

    Raises:
        KeyError: a column is not in ``table``.
        ValueError: ``table`` has no rows.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise KeyError(f"no such summary column(s): {', '.join(missing)}")
    if len(table) == 0:
        raise ValueError("cannot draw a heatmap of an empty table")
    values = table[list(columns)].to_numpy(dtype=float)
    n_rows, n_cols = values.shape
    fig = Figure(figsize=(1.0 + 0.75 * n_cols, 1.6 + 0.4 * n_rows), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(np.ma.masked_invalid(values), cmap="viridis", vmin=0.0, vmax=100.0, aspect="auto")
    for i in range(n_rows):
        for j in range(n_cols):
            if np.isfinite(values[i, j]):
                colour = "black" if values[i, j] > 60 else "white"
                ax.text(j, i, f"{values[i, j]:.0f}", ha="center", va="center", fontsize=8, color=colour)
    ax.set_xticks(range(n_cols), [COLUMN_LABELS.get(c, c) for c in columns], rotation=45, ha="right")
    ax.set_yticks(range(n_rows), [str(i) for i in table.index])
    fig.colorbar(image, ax=ax, label="pass rate over all attempts (%)")
    if title:
        ax.set_title(title)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:  # never half a picture
        fig.savefig(tmp, dpi=dpi, format=out.suffix.lstrip(".") or "png")
    return out
