"""Random starting structures for random structure search (docs/method.md section 4).

Molecules: atoms uniform in a non-periodic box (10 x 5 x 5 Å by default).
Crystals: a target volume (per-element volumes V_Z, a volume per atom, or a
volume-per-atom range), a sheared cell at exactly that volume, positions
uniform in fractional coordinates. Both keep a minimum distance between every
pair of atoms, per element pair if asked, periodic images included, by
rejection sampling with bounded tries. All randomness comes from the
``numpy.random.Generator`` passed in.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, chemical_symbols

from ..errors import ConfigError, RMError
from ..structures import check_atoms
from .composition import Composition, composition_numbers

PairDistances = Mapping[tuple[str | int, str | int], float] | Sequence[tuple[str | int, str | int, float]]
"""Minimum distances per element pair, Å: ``{("C", "H"): 0.9}`` or ``[("C", "H", 0.9)]``."""

CompositionLike = str | Composition | Sequence[int] | np.ndarray
"""A formula, a composition, or atomic numbers (one per atom)."""

_PACKING_LIMIT = 0.7405
"""Densest packing fraction of equal spheres: beyond it a request is impossible."""


class StartError(RMError):
    """A random start cannot be built (box or volume too small for the distances)."""


def element_symbol(z: str | int) -> str:
    """The element symbol of a symbol or atomic number; ConfigError if unknown."""
    if isinstance(z, str) and z in atomic_numbers and z != "X":
        return z
    if isinstance(z, int | np.integer) and 0 < int(z) < len(chemical_symbols):
        return chemical_symbols[int(z)]
    raise ConfigError(f"unknown element {z!r} in pair distances")


def distance_matrix(
    numbers: Sequence[int] | np.ndarray, min_distance: float, pair_distances: PairDistances = ()
) -> np.ndarray:
    """Minimum distance for every atom pair, Å, shape ``(n_atoms, n_atoms)``."""
    items = (
        pair_distances.items() if isinstance(pair_distances, Mapping) else (((a, b), d) for a, b, d in pair_distances)
    )
    table = {}
    for (a, b), d in items:
        za, zb = atomic_numbers[element_symbol(a)], atomic_numbers[element_symbol(b)]
        table[(za, zb)] = table[(zb, za)] = float(d)
    z = np.asarray(numbers, dtype=int)
    out = np.full((len(z), len(z)), float(min_distance))
    for (za, zb), d in table.items():
        out[np.ix_(z == za, z == zb)] = d
    return out


def target_volume(
    numbers: Sequence[int] | np.ndarray,
    *,
    element_volumes: Mapping[int | str, float] | None = None,
    volume_per_atom: float | None = None,
    volume_range: tuple[float, float] | None = None,
    rng: np.random.Generator | None = None,
) -> float:
    """Cell volume, Å^3, from exactly one of three sources.

    Args:
        numbers: atomic numbers of the structure.
        element_volumes: ``{Z: V_Z}`` Å^3 (checkpoint ``volume_fit``); V = sum n_Z V_Z.
        volume_per_atom: Å^3; V = N v.
        volume_range: ``(low, high)`` Å^3 per atom; V = N U(low, high), needs ``rng``.
        rng: the generator for ``volume_range``.

    Raises:
        StartError: no or several sources, missing elements, non-positive volume.
    """
    z = np.asarray(numbers, dtype=int)
    given = [x is not None for x in (element_volumes, volume_per_atom, volume_range)]
    if sum(given) != 1:
        raise StartError("give exactly one of element_volumes, volume_per_atom, volume_range")
    if volume_per_atom is not None:
        volume = len(z) * float(volume_per_atom)
    elif volume_range is not None:
        if rng is None:
            raise StartError("a volume_range needs a numpy Generator")
        lo, hi = float(volume_range[0]), float(volume_range[1])
        volume = len(z) * float(rng.uniform(lo, hi))
    else:
        table = {int(atomic_numbers.get(str(k), k)): float(v) for k, v in element_volumes.items()}  # type: ignore[union-attr]
        missing = sorted(set(z.tolist()) - set(table))
        if missing:
            raise StartError(
                f"no fitted volume for {', '.join(chemical_symbols[m] for m in missing)}; give a "
                "volume per atom (or range) instead"
            )
        volume = float(sum(table[int(k)] for k in z))
    if not volume > 0 or not math.isfinite(volume):
        raise StartError(f"target volume {volume:.4g} Å^3 is not positive")
    return volume


def random_cell(
    volume: float,
    rng: np.random.Generator,
    *,
    shear: float = 0.5,
    min_angle: float = 30.0,
    min_width: float = 0.4,
    max_tries: int = 100,
) -> np.ndarray:
    """A random cell of exactly ``volume`` Å^3 (the diamond protocol).

    A cube of edge ``L = V^(1/3)``, all nine entries perturbed by
    ``(U - 0.5) * shear * L``, rescaled to the volume. Cells with an angle
    below ``min_angle`` degrees or a plane spacing below ``min_width * L``
    are redrawn.

    Returns:
        ``(3, 3)`` cell, rows are the lattice vectors, Å.
    """
    edge = volume ** (1.0 / 3.0)
    for _ in range(max_tries):
        cell = edge * (np.eye(3) + (rng.random((3, 3)) - 0.5) * shear)
        det = np.linalg.det(cell)
        if det <= 0:
            continue
        cell = cell * (volume / det) ** (1.0 / 3.0)
        if _angles_ok(cell, min_angle) and _widths(cell).min() >= min_width * edge:
            return cell
    raise StartError(
        f"no cell with angles >= {min_angle} deg and widths >= {min_width} L in {max_tries} draws (shear {shear})"
    )


def _angles_ok(cell: np.ndarray, min_angle: float) -> bool:
    unit = cell / np.linalg.norm(cell, axis=1, keepdims=True)
    cosines = np.abs([unit[0] @ unit[1], unit[0] @ unit[2], unit[1] @ unit[2]])
    return bool(np.all(cosines <= math.cos(math.radians(min_angle))))


def _widths(cell: np.ndarray) -> np.ndarray:
    """Spacing between opposite faces, Å: 1 / |reciprocal vector|."""
    return 1.0 / np.linalg.norm(np.linalg.inv(cell), axis=0)


def _shifts(cell: np.ndarray, periodic: bool, cutoff: float) -> np.ndarray:
    """Cartesian image shifts that can bring a minimum-image pair within ``cutoff``."""
    if not periodic:
        return np.zeros((1, 3))
    reach = np.ceil(cutoff / _widths(cell) + 0.5).astype(int)
    grid = np.array(list(itertools.product(*(range(-n, n + 1) for n in reach))), dtype=float)
    return grid @ cell


def _check_feasible(dmin: np.ndarray, cell: np.ndarray, periodic: bool, what: str) -> None:
    """Fail fast where equal spheres of the smallest distance cannot fit."""
    d = float(dmin.min())
    room = abs(np.linalg.det(cell)) if periodic else float(np.prod(np.diag(cell) + d))
    need = len(dmin) * math.pi / 6.0 * d**3
    if need > _PACKING_LIMIT * room:
        raise StartError(
            f"{len(dmin)} atoms {d:.3g} Å apart cannot fit in {what} ({room:.4g} Å^3); "
            "enlarge the box/volume or lower the minimum distance"
        )


def _place(
    dmin: np.ndarray, cell: np.ndarray, periodic: bool, rng: np.random.Generator, tries: int
) -> np.ndarray | None:
    """Fractional positions ``(n, 3)`` keeping ``dmin``, or None after ``tries`` per atom."""
    n = len(dmin)
    shifts = _shifts(cell, periodic, float(dmin.max()))
    if periodic and n:
        lattice = np.linalg.norm(shifts, axis=1)
        if lattice[lattice > 1e-9].min() < np.diag(dmin).max():
            return None  # an atom would be too close to its own image
    frac = np.empty((n, 3))
    batch = min(tries, 64)
    for i in range(n):
        for start in range(0, tries, batch):
            cand = rng.random((min(batch, tries - start), 3))
            if i == 0:
                frac[0] = cand[0]
                break
            df = cand[:, None, :] - frac[None, :i, :]
            if periodic:
                df -= np.round(df)
            dr = (df @ cell)[:, :, None, :] + shifts[None, None, :, :]
            dist = np.sqrt((dr**2).sum(-1)).min(-1)
            ok = np.flatnonzero(np.all(dist >= dmin[i, :i], axis=1))
            if len(ok):
                frac[i] = cand[ok[0]]
                break
        else:
            return None
    return frac


def molecule_start(
    composition: CompositionLike,
    rng: np.random.Generator,
    *,
    box: Sequence[float] = (10.0, 5.0, 5.0),
    min_distance: float = 0.7,
    pair_distances: PairDistances = (),
    tries_per_atom: int = 1000,
    restarts: int = 20,
) -> Atoms:
    """Atoms uniform in a non-periodic box, at least ``min_distance`` Å apart.

    Args:
        composition: formula, composition or atomic numbers.
        rng: the only source of randomness.
        box: edge lengths, Å; positions lie in ``[0, box)``, stored as the cell.
        min_distance: default pair minimum, Å; ``pair_distances`` per element pair.
        tries_per_atom: candidate positions per atom before a restart.
        restarts: fresh structures tried before giving up.

    Raises:
        StartError: the box is too small for the atoms and distances.
    """
    numbers = numbers_of(composition)
    cell = np.diag(np.asarray(box, dtype=float))
    dmin = distance_matrix(numbers, min_distance, pair_distances)
    _check_feasible(dmin, cell, False, f"a {' x '.join(f'{x:g}' for x in box)} Å box")
    for _ in range(restarts):
        frac = _place(dmin, cell, False, rng, tries_per_atom)
        if frac is not None:
            atoms = Atoms(numbers=numbers, positions=frac @ cell, cell=cell, pbc=False)
            check_atoms(atoms, label="random molecule start")
            return atoms
    raise StartError(
        f"could not place {len(numbers)} atoms {dmin.min():.3g} Å apart in a "
        f"{' x '.join(f'{x:g}' for x in box)} Å box ({restarts} x {tries_per_atom} tries per atom); "
        "enlarge the box or lower the minimum distance"
    )


def crystal_start(
    composition: CompositionLike,
    rng: np.random.Generator,
    volume: float,
    *,
    min_distance: float = 1.0,
    pair_distances: PairDistances = (),
    shear: float = 0.5,
    min_angle: float = 30.0,
    min_width: float = 0.4,
    tries_per_atom: int = 1000,
    restarts: int = 20,
) -> Atoms:
    """A periodic random start of exactly ``volume`` Å^3.

    The cell comes from :func:`random_cell`; positions are uniform in
    fractional coordinates and every pair, periodic images and an atom's own
    images included, is at least its minimum distance apart. Each restart
    draws a new cell.

    Raises:
        StartError: the volume is too small for the atoms and distances.
    """
    numbers = numbers_of(composition)
    dmin = distance_matrix(numbers, min_distance, pair_distances)
    if not volume > 0:
        raise StartError(f"crystal volume must be positive, not {volume}")
    _check_feasible(dmin, np.eye(3) * volume ** (1 / 3), True, "the cell")
    for _ in range(restarts):
        cell = random_cell(volume, rng, shear=shear, min_angle=min_angle, min_width=min_width)
        frac = _place(dmin, cell, True, rng, tries_per_atom)
        if frac is not None:
            atoms = Atoms(numbers=numbers, scaled_positions=frac, cell=cell, pbc=True)
            check_atoms(atoms, label="random crystal start")
            return atoms
    raise StartError(
        f"could not place {len(numbers)} atoms {dmin.min():.3g} Å apart (periodic images included) "
        f"in {volume:.4g} Å^3 ({restarts} cells x {tries_per_atom} tries per atom); "
        "raise the volume or lower the minimum distance"
    )


def numbers_of(composition: CompositionLike) -> np.ndarray:
    """Atomic numbers ``(n_atoms,)`` of a formula, composition or number list."""
    if isinstance(composition, str):
        return composition_numbers(composition)
    items = list(composition)
    if items and all(isinstance(x, int | np.integer) for x in items):
        z = np.asarray(items, dtype=int)
        if z.min() < 1 or z.max() >= len(chemical_symbols):
            raise ConfigError(f"unknown atomic numbers in {items}")
        return z
    if not items:
        raise ConfigError("empty composition")
    return composition_numbers(tuple(items))  # type: ignore[arg-type]
