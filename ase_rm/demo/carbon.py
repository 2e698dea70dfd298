"""Structural classes of carbon: cubic/hexagonal/stacking-faulted diamond, graphite, other.

Geometry only (ASE and numpy), in three steps:

1. **Bonds.** Two atoms are bonded when their distance is within
   :data:`BOND_FACTOR` of *both* atoms' nearest-neighbour distances (periodic
   images included), so every atom has a coordination number.
2. **Graphite** (sp2 layers): every atom 3-fold, bond angles 120 ± 15°, and
   all atoms' bond planes parallel (one layer orientation).
3. **Diamond polytypes** (sp3 network): every atom 4-fold with tetrahedral
   angles (109.5 ± 15°), and every bond either *staggered* or *eclipsed*:
   seen along the bond, the three other bonds of one end sit between those of
   the other end (60° apart) or on top of them (0°). Cubic diamond (3C, stacking
   ABC...) has only staggered bonds. In hexagonal diamond (2H, lonsdaleite, AB...)
   each atom has one eclipsed bond, along the stacking axis. A polytype with
   mixed stacking (4H = ABCB, 6H = ABCACB, or a cubic crystal with a stacking
   fault) has atoms of both kinds: stacking-faulted diamond. Eclipsed bonds must
   share one axis and no atom may have two.

Anything else (mixed coordination, distorted or twisted networks) is "other".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

CLASSES = ("cubic diamond", "hexagonal diamond", "stacking-faulted diamond", "graphite", "other")
BOND_FACTOR = 1.2
"""Bonded neighbours lie within this factor of both atoms' nearest-neighbour distances."""
ANGLE_TOL = 15.0
"""Largest deviation of a bond angle from 109.47° (sp3) or 120° (sp2), degrees."""
ECLIPSED_MAX = 20.0
"""Largest mean torsion offset (degrees) of an eclipsed bond; ideal 0."""
STAGGERED_MIN = 40.0
"""Smallest mean torsion offset (degrees) of a staggered bond; ideal 60."""

SITES = {"A": (0.0, 0.0), "B": (1 / 3, 2 / 3), "C": (2 / 3, 1 / 3)}


def polytype(stacking: str, bond: float = 1.42) -> Atoms:
    """A diamond polytype from its layer stacking (e.g. "ABC" = 3C), ideal tetrahedra.

    Each letter is one vertical C-C dumbbell at that triangular-lattice site;
    "AB" is hexagonal diamond, "ABC" cubic, "ABCB" 4H, "ABCACB" 6H.
    """
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
    """Per layer of :func:`polytype`: hexagonal (both neighbours on the same site) or cubic."""
    n = len(stacking)
    return [stacking[(k - 1) % n] == stacking[(k + 1) % n] for k in range(n)]


def graphite(bond: float = 1.42, spacing: float = 3.35) -> Atoms:
    """AB (Bernal) graphite with the given C-C bond and layer spacing, Å."""
    a = bond * np.sqrt(3.0)
    atoms = Atoms("C4", cell=[[a, 0, 0], [-a / 2, a * np.sqrt(3) / 2, 0], [0, 0, 2 * spacing]], pbc=True)
    atoms.set_scaled_positions([[0, 0, 0.25], [1 / 3, 2 / 3, 0.25], [0, 0, 0.75], [2 / 3, 1 / 3, 0.75]])
    return atoms


@dataclass
class Bonds:
    """Bonds of a structure: per atom, the bonded neighbours' indices and vectors (Å)."""

    neighbours: list[np.ndarray]
    vectors: list[np.ndarray]

    @property
    def coordination(self) -> np.ndarray:
        return np.array([len(n) for n in self.neighbours])


def find_bonds(atoms: Atoms, factor: float = BOND_FACTOR) -> Bonds:
    """Mutual nearest-shell bonds (see the module docstring), periodic images included."""
    n = len(atoms)
    cutoff = 3.5
    i, j, d, vec = neighbor_list("ijdD", atoms, cutoff)
    while len(np.unique(i)) < n and cutoff < 20:  # isolated atoms: widen the search
        cutoff *= 2
        i, j, d, vec = neighbor_list("ijdD", atoms, cutoff)
    nearest = np.full(n, np.inf)
    np.minimum.at(nearest, i, d)
    bonded = (d <= factor * nearest[i]) & (d <= factor * nearest[j])
    order = np.argsort(i[bonded], kind="stable")
    bi, bj, bv = i[bonded][order], j[bonded][order], vec[bonded][order]
    starts = np.searchsorted(bi, np.arange(n + 1))
    return Bonds([bj[starts[k]:starts[k + 1]] for k in range(n)], [bv[starts[k]:starts[k + 1]] for k in range(n)])


def _angles(vectors: np.ndarray) -> np.ndarray:
    """All pairwise angles between an atom's bond vectors, degrees."""
    u = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    a, b = np.triu_indices(len(u), 1)
    return np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", u[a], u[b]), -1.0, 1.0)))


def _normal(vectors: np.ndarray) -> np.ndarray:
    n = np.cross(vectors[0], vectors[1])
    return n / np.linalg.norm(n)


def is_graphite(bonds: Bonds) -> bool:
    """Every atom 3-fold with 120° angles, all bond planes parallel (sp2 layers)."""
    if not np.all(bonds.coordination == 3):
        return False
    if any(np.max(np.abs(_angles(v) - 120.0)) > ANGLE_TOL for v in bonds.vectors):
        return False
    normals = np.array([_normal(v) for v in bonds.vectors])
    return bool(np.all(np.abs(normals @ normals[0]) > np.cos(np.radians(ANGLE_TOL))))


def torsion_offset(own: np.ndarray, other: np.ndarray, bond: np.ndarray) -> float:
    """Mean angle (degrees, 0-60) between each of ``own`` bonds and the nearest of ``other``
    bonds, seen along ``bond``: 0 eclipsed, 60 staggered."""
    axis = bond / np.linalg.norm(bond)

    def azimuths(vs: np.ndarray) -> np.ndarray:
        p = vs - np.outer(vs @ axis, axis)
        ref = p[0] / np.linalg.norm(p[0]) if len(p) else axis
        side = np.cross(axis, ref)
        return np.degrees(np.arctan2(p @ side, p @ ref))

    both = azimuths(np.vstack([own, other]))
    a, b = both[: len(own)], both[len(own):]
    diff = np.abs((a[:, None] - b[None, :] + 180.0) % 360.0 - 180.0)
    return float(diff.min(axis=1).mean())


def eclipsed_bonds(bonds: Bonds) -> np.ndarray | None:
    """Per atom, the number of eclipsed bonds of a tetrahedral network whose bonds are all
    staggered or eclipsed; None when the structure is not such a network."""
    if not np.all(bonds.coordination == 4):
        return None
    if any(np.max(np.abs(_angles(v) - 109.47)) > ANGLE_TOL for v in bonds.vectors):
        return None
    counts = np.zeros(len(bonds.vectors), dtype=int)
    axes: list[np.ndarray] = []
    for i, (nbrs, vecs) in enumerate(zip(bonds.neighbours, bonds.vectors, strict=True)):
        for k, (j, b) in enumerate(zip(nbrs, vecs, strict=True)):
            back = int(np.argmin(np.linalg.norm(bonds.vectors[j] + b, axis=1)))
            own = np.delete(vecs, k, axis=0)
            other = np.delete(bonds.vectors[j], back, axis=0)
            offset = torsion_offset(own, other, b)
            if offset <= ECLIPSED_MAX:
                counts[i] += 1
                axes.append(b / np.linalg.norm(b))
            elif offset < STAGGERED_MIN:
                return None
    if np.any(counts > 1):
        return None
    if axes and not np.all(np.abs(np.array(axes) @ axes[0]) > np.cos(np.radians(ANGLE_TOL))):
        return None
    return counts


def classify(atoms: Atoms) -> str:
    """One of :data:`CLASSES` for a relaxed carbon structure."""
    return describe(atoms)[0]


def describe(atoms: Atoms) -> tuple[str, float | None]:
    """The class and, for diamond polytypes, the fraction of hexagonally stacked atoms
    (0 cubic, 1 hexagonal; 4H 0.5, 6H 1/3)."""
    bonds = find_bonds(atoms)
    if is_graphite(bonds):
        return "graphite", None
    counts = eclipsed_bonds(bonds)
    if counts is None:
        return "other", None
    fraction = float(counts.mean())
    if fraction == 0.0:
        return "cubic diamond", fraction
    if fraction == 1.0:
        return "hexagonal diamond", fraction
    return "stacking-faulted diamond", fraction


def stacking_axis(atoms: Atoms) -> np.ndarray:
    """A unit vector along the stacking direction: graphite's layer normal, a polytype's
    eclipsed (or else first) bond; the first bond of anything else."""
    bonds = find_bonds(atoms)
    if is_graphite(bonds):
        return _normal(bonds.vectors[0])
    counts = eclipsed_bonds(bonds)
    first = bonds.vectors[0][0] if len(bonds.vectors[0]) else np.array([0.0, 0.0, 1.0])
    if counts is not None and counts.any():
        atom = int(np.argmax(counts))
        for k, j in enumerate(bonds.neighbours[atom]):
            back = int(np.argmin(np.linalg.norm(bonds.vectors[j] + bonds.vectors[atom][k], axis=1)))
            own = np.delete(bonds.vectors[atom], k, axis=0)
            other = np.delete(bonds.vectors[j], back, axis=0)
            if torsion_offset(own, other, bonds.vectors[atom][k]) <= ECLIPSED_MAX:
                first = bonds.vectors[atom][k]
    return first / np.linalg.norm(first)
