"""Structural classes of carbon: cubic/hexagonal/stacking-faulted diamond, graphite, other.

Method: (1) coordination analysis: neighbours within ``BOND_FACTOR`` times
each atom's nearest-neighbour distance (periodic images included); every atom
3-fold with planar bonds -> graphite (layered sp2); every atom 4-fold ->
(2) pymatgen ``StructureMatcher`` (volume-scaled) against diamond polytypes
built in code from their stacking sequences: 3C = ABC (cubic diamond),
2H = AB (hexagonal diamond) and every other stacking of up to six bilayers
(4H = ABCB, 6H = ABCACB, ...), which mix cubic and hexagonal layers: diamond
with stacking faults. Anything else is "other".
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

CLASSES = ("cubic diamond", "hexagonal diamond", "stacking-faulted diamond", "graphite", "other")
BOND_FACTOR = 1.2
"""Neighbours lie within this factor of an atom's nearest-neighbour distance."""

SITES = {"A": (0.0, 0.0), "B": (1 / 3, 2 / 3), "C": (2 / 3, 1 / 3)}


def polytype(stacking: str, bond: float = 1.42) -> Atoms:
    """A diamond polytype from its bilayer stacking (e.g. "ABC" = 3C), ideal tetrahedra."""
    a = bond * np.sqrt(8.0 / 3.0)
    layer = 4.0 * bond / 3.0
    cell = [[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, layer * len(stacking)]]
    frac = []
    for k, site in enumerate(stacking):
        x, y = SITES[site]
        z0 = k * layer
        frac += [(x, y, z0 / cell[2][2]), (x, y, (z0 + bond) / cell[2][2])]
    atoms = Atoms(f"C{len(frac)}", cell=cell, pbc=True)
    atoms.set_scaled_positions(frac)
    return atoms


def hexagonality(stacking: str) -> list[bool]:
    """Per bilayer: hexagonal (its two neighbours sit on the same site) or cubic."""
    n = len(stacking)
    return [stacking[(k - 1) % n] == stacking[(k + 1) % n] for k in range(n)]


def _canonical(pattern: tuple[bool, ...]) -> tuple[bool, ...]:
    """The h/c pattern reduced to its period and smallest rotation."""
    n = len(pattern)
    period = next(p for p in range(1, n + 1) if n % p == 0 and pattern == pattern[p:] + pattern[:p])
    base = pattern[:period]
    return min(base[k:] + base[:k] for k in range(period))


@lru_cache(maxsize=1)
def reference_polytypes(max_layers: int = 6) -> tuple[tuple[str, str, Atoms, int], ...]:
    """(class, stacking, structure, primitive atom count) of every distinct
    polytype of up to ``max_layers`` bilayers (distinct h/c patterns)."""
    from pymatgen.io.ase import AseAtomsAdaptor

    out = []
    seen: set[tuple[bool, ...]] = set()
    for n in range(2, max_layers + 1):
        for rest in itertools.product("ABC", repeat=n - 1):
            seq = "A" + "".join(rest)
            if any(seq[k] == seq[(k + 1) % n] for k in range(n)):
                continue
            hexa = hexagonality(seq)
            key = _canonical(tuple(hexa))
            if key in seen:
                continue
            seen.add(key)
            if all(hexa):
                label = "hexagonal diamond"
            elif not any(hexa):
                label = "cubic diamond"
            else:
                label = "stacking-faulted diamond"
            ref = polytype(seq)
            n_prim = len(AseAtomsAdaptor.get_structure(ref).get_primitive_structure())
            out.append((label, seq, ref, n_prim))
    return tuple(out)


def coordination(atoms: Atoms) -> tuple[np.ndarray, list[np.ndarray]]:
    """Coordination number per atom and the bond vectors of each atom."""
    i, d, vec = neighbor_list("idD", atoms, 3.5)
    n = len(atoms)
    nearest = np.full(n, np.inf)
    np.minimum.at(nearest, i, d)
    bonded = d <= BOND_FACTOR * nearest[i]
    counts = np.bincount(i[bonded], minlength=n)
    bonds = [vec[bonded & (i == k)] for k in range(n)]
    return counts, bonds


def _planar(bonds: np.ndarray) -> bool:
    u = bonds / np.linalg.norm(bonds, axis=1, keepdims=True)
    angles = [np.degrees(np.arccos(np.clip(u[a] @ u[b], -1, 1))) for a, b in ((0, 1), (0, 2), (1, 2))]
    return sum(angles) > 350.0


def classify(atoms: Atoms) -> str:
    """One of :data:`CLASSES` for a relaxed carbon structure."""
    counts, bonds = coordination(atoms)
    if np.all(counts == 3) and all(_planar(b) for b in bonds):
        return "graphite"
    if not np.all(counts == 4):
        return "other"
    from pymatgen.analysis.structure_matcher import StructureMatcher
    from pymatgen.io.ase import AseAtomsAdaptor

    structure = AseAtomsAdaptor.get_structure(atoms)
    matcher = StructureMatcher(ltol=0.2, stol=0.3, angle_tol=5, scale=True, attempt_supercell=True)
    n = len(atoms)
    for label, _, ref, n_prim in reference_polytypes():
        if n % n_prim == 0 and matcher.fit(structure, AseAtomsAdaptor.get_structure(ref)):
            return label
    return "other"
