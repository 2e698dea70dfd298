"""Pseudo energy E~ of given molecules next to their reference energy (the paper's Fig. 1).

The paper's first check of a QM7b model: E~ of each *equilibrium* molecule
(the geometry as given, not relaxed) correlates with its DFT atomization
energy (Pearson R = 0.98). :func:`energy_table` computes E~ of every frame in
batches (many molecules in one graph, no forces) and reads the reference
energy from ``atoms.info``; :mod:`ase_rm_molecules.correlation` computes the
correlations and :mod:`ase_rm_molecules.scatter` draws them.

QM7b (``qm7b.extxyz.gz``) stores the PBE0 atomization energy as ``ae_pbe0``
in kcal/mol (negative: a molecule is lower in energy than its free atoms) and
the same in eV as ``ae_pbe0_eV``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms

from ase_rm import Potential, RMError, keys, load_potential
from ase_rm.graph import Frame, build_graph
from ase_rm.structures import check_atoms

from .heldout import HeldOut, heldout_split
from .reading import read_frames

log = logging.getLogger(__name__)

DEFAULT_ENERGY_KEY = "ae_pbe0"
"""The ``atoms.info`` key of QM7b's reference energy: the PBE0 atomization energy, kcal/mol."""

REFERENCE_UNITS: dict[str, str] = {
    "ae_pbe0": "kcal/mol",
    "ae_pbe0_eV": "eV",
    "energy_dft": "kcal/mol",
    "energy_dftb": "kcal/mol",
}
"""Units of the energy keys of the shared data sets (QM7b, QM7); other keys have no stated unit."""

DEFAULT_MAX_ATOMS = 1024
"""Atoms per batched evaluation (QM7b: about 110 batches; larger batches were not faster on one CPU core)."""


@dataclass(frozen=True)
class EnergyTable:
    """E~ and the reference energy of a set of molecules (one entry per molecule).

    Attributes:
        index: (n,) int, 0-based position of each molecule in its data file.
        formula: the Hill formula of each molecule (``C5H9NO``).
        n_atoms: (n,) int, atoms per molecule.
        pseudo: (n,) float64, total pseudo energy E~, eV.
        reference: (n,) float64, the reference energy (unit: ``unit``).
        key: the ``atoms.info`` key the reference was read from.
        unit: the reference unit ("" when unknown).
    """

    index: np.ndarray
    formula: tuple[str, ...]
    n_atoms: np.ndarray
    pseudo: np.ndarray
    reference: np.ndarray
    key: str = DEFAULT_ENERGY_KEY
    unit: str = "kcal/mol"

    def __len__(self) -> int:
        return len(self.formula)

    def select(self, rows: np.ndarray | Sequence[int]) -> EnergyTable:
        """The sub-table of the given row positions (or a boolean mask), in that order."""
        rows = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=int)
        return EnergyTable(self.index[rows], tuple(self.formula[k] for k in rows), self.n_atoms[rows],
                           self.pseudo[rows], self.reference[rows], self.key, self.unit)


def reference_unit(key: str) -> str:
    """The unit of a known energy key (:data:`REFERENCE_UNITS`), else ""."""
    return REFERENCE_UNITS.get(key, "")


def reference_energies(frames: Sequence[Atoms], key: str = DEFAULT_ENERGY_KEY) -> np.ndarray:
    """``atoms.info[key]`` of every frame as a float64 array (n,).

    Raises:
        RMError: a frame lacks the key (the message lists the keys it has) or its value is not a finite number.
    """
    out = np.empty(len(frames))
    for k, atoms in enumerate(frames):
        if key not in atoms.info:
            numeric = sorted(name for name, v in atoms.info.items() if np.ndim(v) == 0 and _is_number(v))
            raise RMError(
                f"frame {k} has no reference energy {key!r} in atoms.info; its numeric keys are "
                f"{', '.join(numeric) or 'none'} (choose one with --energy-key)"
            )
        value = atoms.info[key]
        if not _is_number(value) or not np.isfinite(float(value)):
            raise RMError(f"frame {k}: atoms.info[{key!r}] = {value!r} is not a finite number")
        out[k] = float(value)
    return out


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_)


def _batches(sizes: Sequence[int], max_atoms: int) -> list[tuple[int, int]]:
    """Consecutive (start, stop) ranges holding at most ``max_atoms`` atoms (at least one frame each)."""
    ranges, start, atoms = [], 0, 0
    for k, n in enumerate(sizes):
        if k > start and atoms + n > max_atoms:
            ranges.append((start, k))
            start, atoms = k, 0
        atoms += n
    if start < len(sizes):
        ranges.append((start, len(sizes)))
    return ranges


def pseudo_energies(
    potential: Potential,
    frames: Sequence[Atoms],
    max_atoms: int = DEFAULT_MAX_ATOMS,
    progress: Callable[[int], object] | None = None,
) -> np.ndarray:
    """Total pseudo energy E~ (eV) of every frame at its given geometry, float64 (n,).

    Frames are stacked into graphs of at most ``max_atoms`` atoms and evaluated
    without forces, in the potential's dtype and on its device.

    Args:
        potential: the model (e.g. from :func:`ase_rm.load_potential`).
        frames: the structures (not modified).
        max_atoms: atoms per batch.
        progress: called with the number of frames done after each batch.
    """
    if max_atoms < 1:
        raise RMError(f"max_atoms must be >= 1, got {max_atoms}")
    param = next(iter(potential.parameters()), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else torch.device("cpu")
    out = np.empty(len(frames))
    for start, stop in _batches([len(a) for a in frames], max_atoms):
        graph = build_graph([Frame.from_atoms(a) for a in frames[start:stop]], potential.cutoff, dtype, device)
        with torch.no_grad():
            energy = potential(graph, forces=False)[keys.ENERGY]
        out[start:stop] = energy.to(torch.float64).cpu().numpy()
        if progress is not None:
            progress(stop - start)
    return out


def energy_table(
    potential: Potential,
    frames: Sequence[Atoms],
    key: str = DEFAULT_ENERGY_KEY,
    indices: Sequence[int] | np.ndarray | None = None,
    species: Sequence[int] | None = None,
    max_atoms: int = DEFAULT_MAX_ATOMS,
    progress: Callable[[int], object] | None = None,
) -> EnergyTable:
    """E~ and the reference energy of ``frames`` (or of the frames at ``indices``).

    Args:
        potential: the model.
        frames: molecules with the reference energy in ``atoms.info[key]``.
        key: the reference energy key (QM7b: ``ae_pbe0``, kcal/mol).
        indices: which frames (0-based positions; default all).
        species: the model's elements; frames with other elements are an error.
        max_atoms: atoms per batched evaluation.
        progress: called with the number of frames done after each batch.

    Raises:
        RMError: a missing reference energy, a periodic frame, an element the model does not know,
            or another problem :func:`ase_rm.check_atoms` finds (e.g. atoms on top of each other).
    """
    rows = np.arange(len(frames)) if indices is None else np.asarray(indices, dtype=int)
    chosen = [frames[k] for k in rows]
    reference = reference_energies(chosen, key)  # first: a wrong key fails before any model work
    for k, atoms in zip(rows, chosen, strict=True):
        if np.any(atoms.pbc):
            raise RMError(f"frame {k} is periodic; the energy correlation is for molecules (pbc False)")
        check_atoms(atoms, species, label=f"frame {k}")  # about 0.3 ms per molecule
    pseudo = pseudo_energies(potential, chosen, max_atoms, progress)
    return EnergyTable(
        index=rows,
        formula=tuple(a.get_chemical_formula() for a in chosen),
        n_atoms=np.array([len(a) for a in chosen], dtype=int),
        pseudo=pseudo,
        reference=reference,
        key=key,
        unit=reference_unit(key),
    )


def evaluate_energies(
    model: str | os.PathLike[str],
    data: str | os.PathLike[str] | Sequence[Atoms],
    heldout: bool = False,
    key: str = DEFAULT_ENERGY_KEY,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    max_atoms: int = DEFAULT_MAX_ATOMS,
    progress: Callable[[int], object] | None = None,
) -> tuple[EnergyTable, HeldOut | None]:
    """The whole data set (or its held-out molecules) through a checkpoint: the table behind Fig. 1.

    Args:
        model: checkpoint path or shipped name.
        data: the molecules (a file, e.g. ``qm7b.extxyz.gz``, or a list of Atoms).
        heldout: only the molecules the model was not trained on, by the
            checkpoint's own split (:func:`~ase_rm_molecules.heldout.heldout_split`);
            ``data`` must then be the data the model was trained on, in the same order.
        key: the reference energy key.
        device, dtype: where and in which precision E~ is computed.
        max_atoms: atoms per batched evaluation.
        progress: called with the number of frames done after each batch.

    Returns:
        The energy table and the held-out split (None without ``heldout``).
    """
    frames = read_frames(data) if isinstance(data, str | os.PathLike) else list(data)
    potential, meta = load_potential(model, device=device, dtype=dtype)
    split = heldout_split(meta, frames) if heldout else None
    if split is not None:
        log.info("%d held-out molecules of %d", len(split.indices), len(frames))
    return energy_table(potential, frames, key, None if split is None else split.indices,
                        meta.get("species"), max_atoms, progress), split
