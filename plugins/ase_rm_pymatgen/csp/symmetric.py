"""Symmetric random starts for crystal searches (AIRSS-style), with PyXtal's tables.

A plain crystal start puts every atom anywhere (space group P1). Here each
start first draws a space group, uniformly among those whose Wyckoff positions
can hold the composition in one primitive cell. Each element then fills its
count (in the conventional cell) with Wyckoff positions drawn uniformly among
those that still fit (one without free parameters at most once), each with
random free parameters; the lattice is a random one of the group's crystal
family (PyXtal's ``Lattice``). The start is that structure's primitive cell
(exactly the composition's atoms; a draw that came out with a smaller cell is
redrawn). PyXtal's own ``from_random`` is not used: its site merging can take
minutes on a single draw.
The cell is scaled to the protocol's target volume (the checkpoint's
per-element volume fit, or the protocol's volume), and the start is accepted
only if every pair, periodic images included, keeps the protocol's minimum
distance. The relaxation itself is the usual one: FIRE does not impose the
symmetry, it only starts from it.

Use it as ``search(..., start_maker=SymmetricStarts())`` or
``ase-rm csp ... --starts symmetric``. Needs ``pip install pyxtal``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

from ase_rm import RMError
from ase_rm.rss import StartMaker, StartSpec, composition_numbers, random_start, start_volume

STARTS = ("random", "symmetric", "symmetric-mp20", "mixed", "template")
"""Kinds of crystal start: the protocol's plain random start; :class:`SymmetricStarts`
with the compatible space groups drawn uniformly, or in proportion to their counts in
the MP-20 training file (:data:`MP20_PRIOR`); or each attempt one of random and
symmetric with probability 1/2 (``SymmetricStarts(fraction=0.5)``); or known structure
types with the target's elements (:class:`.templates.TemplateStarts`, which needs a
template file)."""
START_KIND = "rm_start"
"""atoms.info key: "symmetric" or "random" (the fallback)."""
START_SPACEGROUP = "rm_start_spacegroup"
"""atoms.info key: the space group number the start was built in (1 for a fallback)."""


@cache
def _group(number: int):  # type: ignore[no-untyped-def]
    """PyXtal's space group (about 10 ms to build; read only here, so built once)."""
    from pyxtal.symmetry import Group

    return Group(number)


@lru_cache(maxsize=256)
def compatible_groups(counts: tuple[int, ...], lowest: int = 2) -> tuple[int, ...]:
    """Space groups (``lowest``..230) whose Wyckoff positions can hold these atom
    counts per element in one *primitive* cell (a centred group's conventional
    cell holds them times its centring factor: 2 for I, C, A; 3 for R; 4 for F)."""
    out = []
    for g in range(lowest, 231):
        group = _group(g)
        if group.check_compatible([c * group.cellsize() for c in counts])[0]:
            out.append(g)
    return tuple(out)


@lru_cache(maxsize=256)
def _wyckoff_table(group: int) -> tuple[tuple[str, int, bool], ...]:
    """(letter, multiplicity in the conventional cell, has free parameters) of each Wyckoff position."""
    return tuple((wp.get_label(), wp.multiplicity, wp.get_dof() > 0) for wp in _group(group))


def _draw_sites(group: int, counts: np.ndarray, rng: np.random.Generator, tries: int = 20) -> list[list[str]] | None:
    """Wyckoff letters per element whose multiplicities add up to its count (in the
    conventional cell): each element fills its count with uniformly drawn positions
    that still fit; a position without free parameters is used at most once."""
    table = _wyckoff_table(group)
    for _ in range(tries):
        used: set[str] = set()
        sites: list[list[str]] = []
        for count in counts:
            mine, left = [], int(count)
            while left:
                fits = [(label, mult) for label, mult, free in table if mult <= left and (free or label not in used)]
                if not fits:
                    break
                label, mult = fits[int(rng.integers(len(fits)))]
                mine.append(label)
                used.add(label)
                left -= mult
            if left:
                break
            sites.append(mine)
        else:
            return sites
    return None


def _place_in_group(group: int, elements: np.ndarray, counts: np.ndarray, volume: float,
                    rng: np.random.Generator) -> Atoms | None:
    """A random crystal of space group ``group`` in its conventional cell: a random
    lattice of the group's crystal family (PyXtal), and for each element random
    Wyckoff positions, each with random free parameters, expanded by its operations."""
    from pyxtal.lattice import Lattice

    g = _group(group)
    factor = g.cellsize()
    sites = _draw_sites(group, counts * factor, rng)
    if sites is None:
        return None
    lattice = Lattice(g.lattice_type, volume * factor, random_state=int(rng.integers(2**31 - 1))).matrix
    frac, numbers = [], []
    for z, letters in zip(elements, sites, strict=True):
        for label in letters:
            orbit = np.mod(g.get_wp_by_letter(label).apply_ops(rng.random(3)), 1.0)
            frac.append(orbit)
            numbers += [int(z)] * len(orbit)
    return Atoms(numbers=numbers, scaled_positions=np.concatenate(frac), cell=lattice, pbc=True)


def _primitive(atoms: Atoms) -> Atoms | None:
    """The primitive cell of a PyXtal conventional cell (spglib, positions not idealised)."""
    import spglib

    cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers)
    found = spglib.standardize_cell(cell, to_primitive=True, no_idealize=True, symprec=1e-4)
    if found is None:
        return None
    lattice, frac, numbers = found
    return Atoms(numbers=numbers, scaled_positions=frac, cell=lattice, pbc=True)


class SymmetricStarts:
    """A :data:`ase_rm.rss.StartMaker` that builds crystal starts in random space groups.

    Args:
        fraction: share of attempts that get a symmetric start; the rest (drawn
            by the attempt's own rng) get the plain random start.
        tries: space groups / placements tried before falling back to the plain start.
        lowest_group: smallest space group number drawn (2 skips P1).
        group_weights: ``{space group number: weight}``, e.g. how often each
            group occurs in the training set (:func:`space_group_counts`,
            :func:`load_group_prior`); None draws the compatible groups uniformly.

    Molecule specs are passed to the plain start unchanged.
    """

    def __init__(self, fraction: float = 1.0, tries: int = 50, lowest_group: int = 2,
                 group_weights: Mapping[int, float] | None = None) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"fraction must be in [0, 1], not {fraction}")
        if group_weights is not None and any(not w >= 0 for w in group_weights.values()):
            raise ValueError("space group weights must be >= 0")
        self.fraction, self.tries, self.lowest_group = float(fraction), int(tries), int(lowest_group)
        self.group_weights = None if group_weights is None else {int(g): float(w) for g, w in group_weights.items()}

    def _draw_group(self, groups: tuple[int, ...], rng: np.random.Generator) -> int:
        """A compatible group: uniformly, or in proportion to ``group_weights``
        (uniformly when none of the compatible groups has weight)."""
        if self.group_weights is not None:
            w = np.array([self.group_weights.get(g, 0.0) for g in groups])
            if w.sum() > 0:
                return int(groups[int(rng.choice(len(groups), p=w / w.sum()))])
        return int(rng.choice(groups))

    def __call__(
        self,
        spec: StartSpec,
        composition: object,
        rng: np.random.Generator,
        element_volumes: Mapping[int | str, float] | None = None,
    ) -> Atoms:
        if spec.kind != "crystal" or rng.random() >= self.fraction:
            return self._plain(spec, composition, rng, element_volumes)
        numbers = composition_numbers(composition)  # type: ignore[arg-type]
        volume = start_volume(spec, numbers, rng, element_volumes)
        from ..analysis import quiet_spglib

        with quiet_spglib():
            return self._symmetric(spec, composition, numbers, volume, rng, element_volumes)

    def _symmetric(self, spec: StartSpec, composition: object, numbers: np.ndarray, volume: float,
                   rng: np.random.Generator, element_volumes: Mapping[int | str, float] | None) -> Atoms:
        elements, counts = np.unique(numbers, return_counts=True)
        groups = compatible_groups(tuple(int(c) for c in counts), self.lowest_group)
        for _ in range(self.tries if groups else 0):
            group = self._draw_group(groups, rng)
            atoms = _place_in_group(group, elements, counts, volume, rng)
            if atoms is None:
                continue
            atoms = _primitive(atoms)
            if atoms is None or len(atoms) != len(numbers):  # a supergroup with a smaller cell came out
                continue
            atoms.set_cell(atoms.cell * (volume / atoms.get_volume()) ** (1 / 3), scale_atoms=True)
            if _too_close(atoms, spec):
                continue
            atoms.info[START_KIND], atoms.info[START_SPACEGROUP] = "symmetric", group
            return atoms
        return self._plain(spec, composition, rng, element_volumes)

    @staticmethod
    def _plain(spec: StartSpec, composition: object, rng: np.random.Generator,
               element_volumes: Mapping[int | str, float] | None) -> Atoms:
        atoms = random_start(spec, composition, rng, element_volumes)  # type: ignore[arg-type]
        if spec.kind == "crystal":
            atoms.info[START_KIND], atoms.info[START_SPACEGROUP] = "random", 1
        return atoms


def _too_close(atoms: Atoms, spec: StartSpec) -> bool:
    """Any pair (periodic images and an atom's own images included) closer than
    the protocol allows: ``min_distance``, or its ``pair_distances`` override?"""
    pairs = {frozenset((a, b)): d for a, b, d in spec.pair_distances}
    reach = max([spec.min_distance, *pairs.values()])
    i, j, d = neighbor_list("ijd", atoms, reach)
    symbols = np.array(atoms.get_chemical_symbols())
    need = np.array([pairs.get(frozenset((a, b)), spec.min_distance)
                     for a, b in zip(symbols[i], symbols[j], strict=True)])
    return bool(len(d) and np.any(d < need))


MP20_PRIOR = Path(__file__).with_name("data") / "mp20_space_groups.json"
"""Space-group counts of the MP-20 training file (``python -m ase_rm_pymatgen.csp.symmetric
../shared/data/mp20_train_partial.csv.gz`` wrote it; spglib, symprec 0.1)."""


def space_group_counts(structures: Iterable[Atoms], symprec: float = 0.1) -> dict[int, int]:
    """How many of the structures spglib puts in each space group (1 where it finds none)."""
    import spglib

    from ..analysis import quiet_spglib

    counts: Counter[int] = Counter()
    with quiet_spglib():
        for atoms in structures:
            found = spglib.get_symmetry_dataset(
                (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=symprec)
            counts[int(found.number) if found is not None else 1] += 1
    return dict(sorted(counts.items()))


def load_group_prior(prior: str | os.PathLike[str]) -> dict[int, float] | None:
    """Space-group weights: "uniform" (None), "mp20" (the shipped MP-20 counts), or a
    JSON file ``{"counts": {"225": n, ...}}`` as :func:`main` writes it."""
    if str(prior) == "uniform":
        return None
    path = MP20_PRIOR if str(prior) == "mp20" else Path(prior)
    try:
        data = json.loads(path.read_text())
        return {int(g): float(n) for g, n in data["counts"].items()}
    except FileNotFoundError:
        raise RMError(f"space group prior {path} not found") from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RMError(f"{path} is not a space group prior (a JSON object with 'counts'): {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ase_rm_pymatgen.csp.symmetric STRUCTURES [OUT.json]``: the space-group
    counts of a structure file (default output: the shipped MP-20 prior's path)."""
    import argparse

    from ase_rm import read_structures

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("structures", help="any file ase_rm.read_structures reads (e.g. the MP-20 CSV)")
    parser.add_argument("out", nargs="?", default=str(MP20_PRIOR))
    parser.add_argument("--symprec", type=float, default=0.1)
    args = parser.parse_args(argv)
    structures = read_structures(args.structures)
    counts = space_group_counts(structures, args.symprec)
    doc = {"source": Path(args.structures).name, "structures": len(structures), "symprec": args.symprec,
           "counts": {str(g): n for g, n in counts.items()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"{len(structures)} structures, {len(counts)} space groups: {args.out}")
    return 0


def symmetric_starts() -> StartMaker:
    """Every start in a random space group (the ``symmetric`` entry point of ``ase_rm.starts``)."""
    return SymmetricStarts()


def mixed_starts() -> StartMaker:
    """Half the starts symmetric, half the plain start (the ``mixed`` entry point of ``ase_rm.starts``)."""
    return SymmetricStarts(fraction=0.5)


def start_maker(starts: str) -> StartMaker | None:
    """The :data:`ase_rm.rss.StartMaker` of one of :data:`STARTS` (None: the plain start)."""
    if starts not in STARTS:
        raise RMError(f"starts must be one of {', '.join(STARTS)}, not {starts!r}")
    if starts == "template":
        raise RMError("template starts need a template file (ase-rm csp --templates FILE)")
    if starts == "symmetric-mp20":
        return SymmetricStarts(group_weights=load_group_prior("mp20"))
    return {"random": None, "symmetric": symmetric_starts(), "mixed": mixed_starts()}[starts]


if __name__ == "__main__":
    raise SystemExit(main())
