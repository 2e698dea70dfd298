"""A picture of the top candidates: one row per composition, its best-ranked structures side by side."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from ase import Atoms

from ase_rm import RMError

from .ranking import CSP_ENERGY_PER_ATOM, CSP_RANK

MAX_ROWS = 24
"""Compositions drawn at most (the first ones); the table lists all."""


def plot_top(candidates: Mapping[str, Sequence[Atoms]], path: str | os.PathLike[str], top: int = 3) -> None:
    """PNG of the ``top`` best-ranked candidates of each id (ASE's matplotlib renderer, cell drawn).

    Raises:
        RMError: matplotlib is not installed (``pip install 'ase-rm[plot]'``).
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RMError("pictures need matplotlib: pip install 'ase-rm[plot]' (or --pictures 0)") from None
    from ase.visualize.plot import plot_atoms

    ids = list(candidates)[:MAX_ROWS]
    if not ids:
        return
    fig, axes = plt.subplots(len(ids), top, figsize=(3 * top, 3 * len(ids)), squeeze=False)
    for row, csp_id in zip(axes, ids, strict=True):
        shown = list(candidates[csp_id])[:top]
        for k, ax in enumerate(row):
            ax.set_axis_off()
            if k >= len(shown):
                continue
            atoms = shown[k]
            plot_atoms(atoms, ax, rotation="10x,20y,0z", radii=0.4)
            energy = float(atoms.info.get(CSP_ENERGY_PER_ATOM, float("nan")))
            ax.set_title(f"{csp_id} {atoms.get_chemical_formula()}\nrank {atoms.info.get(CSP_RANK)}, "
                         f"{energy:.3f} eV/atom", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
