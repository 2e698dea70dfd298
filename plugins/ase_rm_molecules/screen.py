"""A geometric bond screen for generated molecules (no RDKit, no pseudo energy).

Two atoms are bonded when they are closer than ``scale`` times the sum of their
covalent radii (``ase.data.covalent_radii``; ``scale`` 1.3 by default). A
molecule passes when every atom has at most the neighbours a neutral atom of its
element can bond to (:data:`MAX_NEIGHBOURS`: H 1, C 4, N 3, O 2, S 6, Cl 1, ...;
elements not listed have no cap) and the bond graph is one connected fragment.

This is the check a chemist does by eye on a random-search result: an
over-coordinated carbon or a stray fragment is not a molecule. It looks at
geometry only, so it ranks structures independently of E~; ``ase-rm select
--best-of K --rank-by bonds`` keeps, of K relaxations per attempt, a converged one
that passes the screen with the lowest E~ (:func:`screened_rank_key`).

The stricter valence screen (:func:`valence_problem`, ``--rank-by valence``) also
asks the chemist's next question: can the bond graph be drawn as a neutral Lewis
structure? Each bond gets an order 1-3 so that every atom reaches one of the
valences of a neutral atom of its element (:data:`NEUTRAL_VALENCES`: C 4, N 3,
O 2, S 2/4/6, ...). A three-coordinate carbon whose neighbours are all saturated
(a radical) fails it; benzene's ring passes (a Kekule structure exists).

The two rank keys are registered as the ``bonds`` and ``valence`` rankings of
the core's ``ase_rm.rankings`` entry-point group, so ``ase-rm select --rank-by``
finds them when this plugin is installed. The screens need only ASE and numpy.
"""

from __future__ import annotations

import itertools

import numpy as np
from ase import Atoms
from ase.data import covalent_radii

from ase_rm import RMError
from ase_rm.rss import rank_key

MAX_NEIGHBOURS: dict[int, int] = {
    1: 1, 5: 3, 6: 4, 7: 3, 8: 2, 9: 1, 14: 4, 15: 5, 16: 6, 17: 1, 35: 1, 53: 1,
}
"""Most bonded neighbours of a neutral atom, by atomic number."""

NEUTRAL_VALENCES: dict[int, tuple[int, ...]] = {
    1: (1,), 5: (3,), 6: (4,), 7: (3,), 8: (2,), 9: (1,), 14: (4,), 15: (3, 5), 16: (2, 4, 6),
    17: (1,), 35: (1,), 53: (1,),
}
"""Valences (sums of bond orders) of a neutral atom, by atomic number."""

MAX_BOND_ORDER = 3

DEFAULT_SCALE = 1.3
"""Bonded below this multiple of the sum of covalent radii (RDKit's connectivity
default too). Chosen on the QM7b validation formulas over 1.15, which rejects
molecules with one stretched X-H bond (docs/results.md, session 10)."""


def bond_graph(atoms: Atoms, scale: float = DEFAULT_SCALE) -> np.ndarray:
    """The (n, n) boolean adjacency matrix of the covalent-radius bond graph.

    Raises:
        RMError: a periodic structure (the screen is for molecules), or ``scale <= 0``.
    """
    if atoms.pbc.any():
        raise RMError("the bond screen is for molecules; this structure is periodic")
    if not scale > 0:
        raise RMError(f"scale must be > 0, got {scale}")
    positions = atoms.get_positions()
    radii = covalent_radii[atoms.numbers]
    dist = np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)
    bonded = dist < scale * (radii[:, None] + radii[None, :])
    np.fill_diagonal(bonded, False)
    return bonded


def bond_problem(atoms: Atoms, scale: float = DEFAULT_SCALE) -> str | None:
    """Why ``atoms`` fails the bond screen, or None if it passes.

    Args:
        atoms: a molecule (no periodic boundary conditions).
        scale: bonded below ``scale * (r_cov,i + r_cov,j)``.

    Raises:
        RMError: a periodic structure (the screen is for molecules), or ``scale <= 0``.
    """
    return _bond_problem(atoms, bond_graph(atoms, scale))  # bond_graph checks pbc and scale first


def _bond_problem(atoms: Atoms, bonded: np.ndarray) -> str | None:
    """:func:`bond_problem` on the bond graph ``bonded`` of ``atoms``."""
    n = len(atoms)
    if n == 0:
        return "no atoms"
    if not np.isfinite(atoms.get_positions()).all():
        return "non-finite positions"
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


def _saturate(need: list[int], edges: list[tuple[int, int]], extra: list[int],
              failed: set[tuple[int, ...]] | None = None) -> bool:
    """Whether extra bond orders (0 .. MAX_BOND_ORDER - 1 per edge, added to ``extra``)
    can bring every ``need`` to 0; ``need`` and ``extra`` are restored on return.

    A depth-first search over the first atom that still needs more, with the
    states already known to fail remembered in ``failed`` (so molecules made of
    many rings stay fast), and a cut when an atom needs more than its
    neighbours can still give."""
    failed = set() if failed is None else failed
    room = [0] * len(need)
    for e, (a, b) in enumerate(edges):
        if need[a] > 0 and need[b] > 0:
            cap = MAX_BOND_ORDER - 1 - extra[e]
            room[a] += min(cap, need[b])
            room[b] += min(cap, need[a])
    if any(k > r for k, r in zip(need, room, strict=True)):
        return False
    i = next((a for a, k in enumerate(need) if k > 0), None)
    if i is None:
        return True
    state = (*need, *(x if need[a] > 0 and need[b] > 0 else 0 for x, (a, b) in zip(extra, edges, strict=True)))
    if state in failed:
        return False
    for e, (a, b) in enumerate(edges):
        if i not in (a, b) or extra[e] >= MAX_BOND_ORDER - 1:
            continue
        j = b if a == i else a
        if need[j] <= 0:
            continue
        need[i] -= 1
        need[j] -= 1
        extra[e] += 1
        found = _saturate(need, edges, extra, failed)
        need[i] += 1
        need[j] += 1
        extra[e] -= 1
        if found:
            return True
    failed.add(state)
    return False


def valence_problem(atoms: Atoms, scale: float = DEFAULT_SCALE) -> str | None:
    """Why ``atoms`` fails the valence screen, or None if it passes.

    It passes when it passes :func:`bond_problem` and its bond graph has a neutral
    Lewis structure: bond orders 1 to :data:`MAX_BOND_ORDER` such that every atom's
    sum of bond orders is one of its element's :data:`NEUTRAL_VALENCES`. Atoms of
    elements not listed there are left unchecked (any valence).

    Raises:
        RMError: as :func:`bond_problem`.
    """
    bonded = bond_graph(atoms, scale)
    return _bond_problem(atoms, bonded) or _lewis_problem(atoms, bonded)


def _lewis_problem(atoms: Atoms, bonded: np.ndarray) -> str | None:
    """Why the bond graph ``bonded`` of ``atoms`` (which passes the bond screen)
    has no neutral Lewis structure, or None if it has one."""
    degree = bonded.sum(axis=1)
    symbols = atoms.get_chemical_symbols()
    choices: list[list[int]] = []  # per atom: the bond orders it may still need beyond single bonds
    for i, z in enumerate(atoms.numbers):
        valences = NEUTRAL_VALENCES.get(int(z))
        options = [0] if valences is None else [v - int(degree[i]) for v in valences if v >= degree[i]]
        if not options:
            return f"atom {i} ({symbols[i]}) has {degree[i]} bonds, more than a neutral {symbols[i]} makes"
        choices.append(options)
    # atoms that need more: only bonds between two of them can carry a higher order
    open_atoms = [i for i, c in enumerate(choices) if max(c) > 0]
    edges = [(a, b) for a in open_atoms for b in open_atoms if a < b and bonded[a, b]]
    multi = [i for i in open_atoms if len(choices[i]) > 1]
    for picks in itertools.product(*(choices[i] for i in multi)):
        need = [c[0] for c in choices]
        for i, k in zip(multi, picks, strict=True):
            need[i] = k
        if sum(need) % 2 == 0 and _saturate(need, edges, [0] * len(edges)):
            return None
    short = [f"{symbols[i]}{i}" for i in open_atoms]
    return f"no neutral Lewis structure: atoms {', '.join(short)} cannot all reach a neutral valence"


def passes_valence_screen(atoms: Atoms, scale: float = DEFAULT_SCALE) -> bool:
    """Whether ``atoms`` passes the valence screen (see :func:`valence_problem`)."""
    return valence_problem(atoms, scale) is None


def screen_verdicts(atoms: Atoms, scale: float = DEFAULT_SCALE) -> tuple[bool, bool]:
    """Whether ``atoms`` passes the bond screen, and whether it passes the valence
    screen, from one bond graph (what :func:`passes_bond_screen` and
    :func:`passes_valence_screen` would say)."""
    bonded = bond_graph(atoms, scale)
    bonds = _bond_problem(atoms, bonded) is None
    return bonds, bonds and _lewis_problem(atoms, bonded) is None


def screened_rank_key(atoms: Atoms) -> tuple[bool, bool, float]:
    """The ``bonds`` ranking: :func:`ase_rm.rss.rank_key` with the bond screen
    between its two parts: converged first, then molecules that pass the
    screen, then by E~ per atom."""
    unconverged, energy = rank_key(atoms)
    return unconverged, not passes_bond_screen(atoms), energy


def valence_rank_key(atoms: Atoms) -> tuple[bool, bool, bool, float]:
    """The ``valence`` ranking: :func:`screened_rank_key` with the valence screen
    after the bond screen: converged first, then passing the bond screen, then
    having a neutral Lewis structure (:func:`valence_problem`), then by E~ per atom."""
    unconverged, energy = rank_key(atoms)
    bonds, valence = screen_verdicts(atoms)
    return unconverged, not bonds, not valence, energy
