"""The QM7b reference: a sample for the reference row, and SMILES for novelty.

QM7b (7,211 molecules with up to 7 heavy atoms C, N, O, S, Cl) is the training
set of the paper's molecular model. Its file is not shipped with ase_rm; pass
its path (in the project checkout: ``shared/data/qm7b.extxyz.gz``).

The full PoseBusters evaluation costs about 0.4 s per molecule (mostly the
internal-energy check), so the reference row usually uses an evenly spaced
sample (:func:`qm7b_reference` with ``limit``). Novelty needs only bond
perception and SMILES, about 0.5 ms per molecule, so :func:`known_smiles`
runs over all of QM7b on every call; nothing is cached or written.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np
from ase import Atoms

from ase_rm import RMError

from .perception import canonical_smiles, perceive
from .reading import read_frames

QM7B_SIZE = 7211
"""Number of molecules in QM7b."""


def evenly_spaced(frames: Sequence[Atoms], limit: int | None) -> list[Atoms]:
    """``limit`` frames spread evenly over ``frames`` (first and last included); all if ``limit`` is None.

    QM7b is ordered by size, so the first ``limit`` molecules would be the
    smallest ones; an even spread keeps the sample representative and is
    deterministic (no random number generator needed).

    Raises:
        RMError: ``limit`` is negative.
    """
    if limit is None or limit >= len(frames):
        return list(frames)
    if limit < 0:
        raise RMError(f"reference limit must be >= 0 or None, got {limit}")
    if limit == 0:
        return []
    indices = np.unique(np.linspace(0, len(frames) - 1, limit).round().astype(int))
    return [frames[i] for i in indices]


def qm7b_reference(path: str | os.PathLike[str], limit: int | None = None) -> list[Atoms]:
    """QM7b molecules from ``path`` (extxyz, gzip allowed): all, or ``limit`` evenly spaced ones.

    Args:
        path: the QM7b file (``qm7b.extxyz.gz``).
        limit: how many molecules to keep (``None``: all).

    Raises:
        RMError: the file cannot be read or holds a periodic structure.
    """
    frames = read_frames(path)
    if any(np.any(a.pbc) for a in frames):
        raise RMError(f"{path} holds periodic structures; expected molecules (QM7b)")
    return evenly_spaced(frames, limit)


def known_smiles(frames: Iterable[Atoms]) -> set[str]:
    """Canonical SMILES (no stereo, no H) of every frame whose bonds can be perceived."""
    out = set()
    for atoms in frames:
        smiles = canonical_smiles(perceive(atoms))
        if smiles is not None:
            out.add(smiles)
    return out
