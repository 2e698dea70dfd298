"""The demo's pictures: E~ against volume (paper Fig. 5) and one structure per family."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

from .. import keys
from .carbon import CLASSES, stacking_axis

COLOURS = {"cubic diamond": "tab:blue", "hexagonal diamond": "tab:orange", "stacking-faulted diamond": "tab:green",
           "graphite": "tab:red", "other": "0.6"}


def _figure(size: tuple[float, float]):  # type: ignore[no-untyped-def]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=120)
    FigureCanvasAgg(fig)
    return fig


def plot(structures: list[Atoms], path: Path, training_volume: float) -> None:
    """E~/atom against volume/atom, coloured by class (paper Fig. 5)."""
    fig = _figure((6.4, 4.8))
    ax = fig.add_subplot()
    for cls in reversed(CLASSES):
        pts = [(a.info["volume_per_atom"], a.info["energy_per_atom"]) for a in structures if a.info["class"] == cls]
        if pts:
            x, y = np.array(pts).T
            ax.scatter(x, y, s=18, c=COLOURS[cls], label=f"{cls} ({len(pts)})", alpha=0.8, edgecolors="none")
    ax.axvline(training_volume, color="k", lw=0.8, ls="--", label="training cell")
    ax.set_xlabel("volume per atom (Å$^3$)")
    ax.set_ylabel("E~ per atom (eV)")
    ax.set_title("RM one-shot diamond: relaxed structures")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)


def representatives(structures: list[Atoms]) -> dict[str, Atoms]:
    """Per diamond/graphite family found, its converged structure of lowest E~/atom
    (fewest atoms first among equals, so the picture stays readable)."""
    out: dict[str, Atoms] = {}
    for cls in CLASSES[:-1]:
        found = [a for a in structures if a.info["class"] == cls and a.info[keys.RM_CONVERGED]]
        if found:
            out[cls] = min(found, key=lambda a: (round(float(a.info["energy_per_atom"]), 4), len(a)))
    return out


def _display(atoms: Atoms, min_atoms: int = 48) -> Atoms:
    """The structure repeated along its shortest cell vectors until it has ``min_atoms`` atoms,
    wrapped into the cell."""
    shown = atoms.copy()
    shown.rotate(stacking_axis(atoms), (0, 1, 0), rotate_cell=True)  # layers horizontal in the picture
    shown.wrap()
    reps = [1, 1, 1]
    lengths = shown.cell.lengths()
    while len(atoms) * int(np.prod(reps)) < min_atoms:
        k = int(np.argmin([lengths[i] * reps[i] for i in range(3)]))
        reps[k] += 1
    return shown.repeat(reps)


def structures_picture(structures: list[Atoms], path: Path) -> list[str]:
    """One panel per family found (its representative, repeated), written as a PNG.

    Returns:
        The families shown, in :data:`CLASSES` order.
    """
    from ase.visualize.plot import plot_atoms

    chosen = representatives(structures)
    fig = _figure((max(3.0 * len(chosen), 6.0), 3.4))
    if not chosen:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no diamond or graphite found", ha="center", va="center")
        ax.set_axis_off()
    for k, (cls, atoms) in enumerate(chosen.items()):
        ax = fig.add_subplot(1, len(chosen), k + 1)
        shown = _display(atoms)
        plot_atoms(shown, ax, rotation="10y,5x", radii=0.3, show_unit_cell=0, colors=[COLOURS[cls]] * len(shown))
        ax.set_title(f"{cls}\n{len(atoms)} atoms, {atoms.info['volume_per_atom']:.2f} Å$^3$/atom,\n"
                     f"E~ {atoms.info['energy_per_atom']:.3f} eV/atom", fontsize=8)
        ax.set_axis_off()
    missing = [cls for cls in CLASSES[:-1] if cls not in chosen]
    if missing:
        fig.text(0.5, 0.01, "not found: " + ", ".join(missing), ha="center", va="bottom", fontsize=7)
    fig.tight_layout(rect=(0, 0.05 if missing else 0, 1, 1))
    fig.savefig(path)
    return list(chosen)
