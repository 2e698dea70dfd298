"""Layered random starts for the diamond demo (a deviation from the published protocol).

The published start puts every atom uniformly in a sheared cell. Layered graphite and
stacking-faulted diamond, both layered structures, almost never form from such starts
(docs/diamond.md). A layered start draws the same sheared cell of the same volume but puts
the atoms on equally spaced planes parallel to the first two cell vectors, two atoms per
plane at random in-plane positions: the layers are given, their order (graphite,
or puckered bilayers stacked cubic, hexagonal or mixed) is left to the relaxation on E~.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from ..rss import StartError, StartSpec, random_cell
from ..rss.starts import numbers_of

ATOMS_PER_PLANE = 2


def layered_start(spec: StartSpec, composition: object, rng: np.random.Generator,
                  element_volumes: Mapping[int | str, float] | None = None, tries: int = 1000,
                  planes: int | None = None) -> Atoms:
    """A start of ``spec.volume_per_atom`` with the atoms on planes (the module docstring).

    Same signature as :func:`ase_rm.rss.random_start` (a ``start_maker`` for
    :func:`ase_rm.rss.search`); ``element_volumes`` is not used.
    """
    numbers = numbers_of(composition)  # type: ignore[arg-type]
    n = len(numbers)
    if spec.volume_per_atom is None:
        raise StartError("a layered start needs a volume per atom")
    planes = planes or max(1, n // ATOMS_PER_PLANE)
    z = (np.arange(n) * planes // n + 0.5) / planes
    for _ in range(tries):
        cell = random_cell(spec.volume_per_atom * n, rng, shear=spec.shear)
        frac = np.column_stack([rng.random((n, 2)), z])
        atoms = Atoms(numbers=numbers, scaled_positions=frac, cell=cell, pbc=True)
        if len(neighbor_list("i", atoms, spec.min_distance)) == 0:
            return atoms
    raise StartError(f"no layered start of {n} atoms {spec.min_distance} Å apart in {tries} tries")
