"""A geometric bond screen for generated molecules (no RDKit, no pseudo energy).

Two atoms are bonded when they are closer than ``scale`` times the sum of their
covalent radii (``ase.data.covalent_radii``; ``scale`` 1.3 by default). A
molecule passes when every atom has at most the neighbours a neutral atom of its
element can bond to (:data:`MAX_NEIGHBOURS`: H 1, C 4, N 3, O 2, S 6, Cl 1, ...;
elements not listed have no cap) and the bond graph is one connected fragment.

This is the check a chemist does by eye on a random-search result: an
over-coordinated carbon or a stray fragment is not a molecule. It looks at
geometry only, so it ranks structures independently of E~; ``ase-rm generate
--best-of K --rank-by bonds`` keeps, of K relaxations per attempt, a converged one
that passes the screen with the lowest E~ (:func:`screened_rank_key`).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.data import covalent_radii

from ..errors import RMError

MAX_NEIGHBOURS: dict[int, int] = {
    1: 1, 5: 3, 6: 4, 7: 3, 8: 2, 9: 1, 14: 4, 15: 5, 16: 6, 17: 1, 35: 1, 53: 1,
}
"""Most bonded neighbours of a neutral atom, by atomic number."""

DEFAULT_SCALE = 1.3
"""Bonded below this multiple of the sum of covalent radii (RDKit's connectivity
default too). Chosen on the QM7b validation formulas over 1.15, which rejects
molecules with one stretched X-H bond (docs/results.md, session 10)."""


def bond_problem(atoms: Atoms, scale: float = DEFAULT_SCALE) -> str | None:
    """Why ``atoms`` fails the bond screen, or None if it passes.

    Args:
        atoms: a molecule (no periodic boundary conditions).
        scale: bonded below ``scale * (r_cov,i + r_cov,j)``.

    Raises:
        RMError: a periodic structure (the screen is for molecules), or ``scale <= 0``.
    """
    if atoms.pbc.any():
        raise RMError("the bond screen is for molecules; this structure is periodic")
    if not scale > 0:
        raise RMError(f"scale must be > 0, got {scale}")
    n = len(atoms)
    if n == 0:
        return "no atoms"
    positions = atoms.get_positions()
    if not np.isfinite(positions).all():
        return "non-finite positions"
    radii = covalent_radii[atoms.numbers]
    dist = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)
    bonded = dist < scale * (radii[:, None] + radii[None, :])
    np.fill_diagonal(bonded, False)
    degree = bonded.sum(axis=1)
    for i, (z, d) in enumerate(zip(atoms.numbers, degree, strict=True)):
        cap = MAX_NEIGHBOURS.get(int(z))
        if cap is not None and d > cap:
            return f"atom {i} ({atoms.get_chemical_symbols()[i]}) has {d} bonded neighbours (at most {cap})"
    seen = np.zeros(n, dtype=bool)
    seen[0], frontier = True, [0]
    while frontier:
        nxt = np.flatnonzero(bonded[frontier].any(axis=0) & ~seen)
        seen[nxt] = True
        frontier = list(nxt)
    if not seen.all():
        return f"{int((~seen).sum())} of {n} atoms are not bonded to the rest"
    return None


def passes_bond_screen(atoms: Atoms, scale: float = DEFAULT_SCALE) -> bool:
    """Whether ``atoms`` passes the bond screen (see :func:`bond_problem`)."""
    return bond_problem(atoms, scale) is None
