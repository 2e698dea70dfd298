"""Layered random starts: do they make graphite or stacking-faulted diamond? (docs/diamond.md)

The published start puts every atom uniformly in a sheared cell. A layered start draws
the same sheared cell of the same volume but puts the atoms on equally spaced planes
parallel to the first two cell vectors at random in-plane positions (two atoms per plane,
or PLANES planes); the relaxation on E~ decides what the layers become. Measured with
the shipped model; not adopted (no graphite, no stacking fault).

    python experiments/diamond/layered_starts.py SIZES VOLUMES ATTEMPTS [PLANES]
    python experiments/diamond/layered_starts.py 4,8 4.4,4.8 4        # two atoms per plane
    python experiments/diamond/layered_starts.py 12,16 4.4,4.8 4 2    # two planes
"""

from __future__ import annotations

import collections
import functools
import sys
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from ase_rm.checkpoint import load_potential
from ase_rm.demo.carbon import describe
from ase_rm.rss import PROTOCOLS, Attempt, StartError, StartSpec, parse_formula, random_cell, search
from ase_rm.rss.starts import numbers_of

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


def main(sizes: str, volumes: str, attempts: str, planes: str | None = None) -> None:
    potential, _ = load_potential("diamond")
    protocol = PROTOCOLS["diamond"]
    protocol = replace(protocol, stages=tuple(replace(s, max_steps=2000) for s in protocol.stages))
    todo = [Attempt(k, parse_formula(f"C{n}"), replace(protocol.start, volume_per_atom=v, volume_range=None))
            for k, (n, v, _) in enumerate((int(n), float(v), r) for n in sizes.split(",")
                                          for v in volumes.split(",") for r in range(int(attempts)))]
    maker = functools.partial(layered_start, planes=int(planes)) if planes else layered_start
    counts: collections.Counter[tuple[int, str]] = collections.Counter()
    for atoms in search(potential, todo, protocol, seed=0, start_maker=maker):
        counts[(len(atoms), describe(atoms)[0])] += 1
    for (n, cls), count in sorted(counts.items()):
        print(f"{n} atoms: {cls} {count}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
