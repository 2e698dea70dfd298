"""Template starts for crystal searches: known structure types with the target's elements.

A classic way to predict a crystal is to take a known structure of the same
stoichiometry type (same anonymous formula: CoSb and NiAs are both AB) and put
the target's elements on its sites. :class:`TemplateLibrary` holds such known
structures (e.g. the training set of the model), and :class:`TemplateStarts`
turns them into starts for the usual relaxation on E~, which then decides the
geometry (and, by E~, the ranking).

For a target composition (a cell formula with N atoms), the candidates are the
library's structures whose anonymous formula equals the target's and whose
atom count divides N. Each candidate is taken with every assignment of the
target's elements to its elements that keeps the stoichiometry (one for CoSb3,
two for CoSb, six for BiSCl). An assignment scores the mean over the target's
atoms of the difference in Pettifor's Mendeleev number between the element put
on a site and the element the template had there: the lower, the more alike
the chemistry. Candidates in score order are then made distinct by structure
type: space group (spglib, ``symprec``) and the Wyckoff letters each target
element occupies. Attempt k of a composition starts from the k-th distinct type,
as a supercell of N atoms scaled to the protocol's start volume (the
checkpoint's per-element volume fit). Attempts beyond the distinct types get the
plain random start.

The ordering rule was chosen on MP-20 validation compositions, before any
relaxation (docs/results.md). Use it as ``ase-rm csp ... --starts template
--templates FILE``, or ``search(..., start_maker=TemplateStarts(library, stride))``.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

from ase_rm import RMError
from ase_rm.rss import StartSpec, composition_numbers, random_start, start_volume

START_KIND = "rm_start"
"""atoms.info key: "template" or "random" (the fallback), as for the symmetric starts."""
START_TEMPLATE = "rm_start_template"
"""atoms.info key: the template's material_id (or its index in the library file)."""
START_TEMPLATE_FORMULA = "rm_start_template_formula"
"""atoms.info key: the template's own formula, before its elements were replaced."""

_MENDELEEV: dict[int, float] = {}


def mendeleev_number(z: int) -> float:
    """Pettifor's Mendeleev number of element ``z`` (pymatgen's table)."""
    if z not in _MENDELEEV:
        from pymatgen.core import Element

        value = Element(chemical_symbols[z]).mendeleev_no
        if value is None:
            raise RMError(f"no Mendeleev number for {chemical_symbols[z]}: it cannot be put on a template site")
        _MENDELEEV[z] = float(value)
    return _MENDELEEV[z]


def _reduced(numbers: Sequence[int] | np.ndarray) -> tuple[dict[int, int], int]:
    """``{Z: count in the reduced formula}`` and the number of formula units."""
    zs, counts = np.unique(np.asarray(numbers, dtype=int), return_counts=True)
    g = int(np.gcd.reduce(counts))
    return {int(z): int(c) // g for z, c in zip(zs, counts, strict=True)}, g


def anonymous_key(numbers: Sequence[int] | np.ndarray) -> tuple[int, ...]:
    """The anonymous formula as sorted reduced counts: CoSb -> (1, 1), Ag3O -> (1, 3)."""
    return tuple(sorted(_reduced(numbers)[0].values()))


@dataclass(frozen=True)
class Candidate:
    """One template with one assignment of the target's elements to its sites."""

    template: int
    """index in the library"""
    mapping: tuple[tuple[int, int], ...]
    """(template Z, target Z) pairs"""
    score: float
    """mean Mendeleev-number difference per target atom (lower: more alike)"""
    kind: tuple[object, ...]
    """(space group, sorted (target Z, Wyckoff letter) of the sites): the structure type"""


class TemplateLibrary:
    """Known crystal structures to take structure types from.

    Args:
        structures: periodic structures (ASE Atoms); ``info["material_id"]`` names
            them in the output, if present.
        symprec: spglib tolerance for the structure type, Å.
        source: what they were read from (shown in messages and the run manifest).
        digest: a fingerprint of the source (the file's SHA-256), for the manifest.
    """

    def __init__(self, structures: Sequence[Atoms], symprec: float = 0.1, source: str = "structures",
                 digest: str | None = None) -> None:
        self.structures = list(structures)
        if not self.structures:
            raise RMError(f"the template library ({source}) holds no structures")
        for k, atoms in enumerate(self.structures):
            if not all(atoms.pbc) or atoms.cell.rank != 3:
                raise RMError(f"template {k} of {source} is not a periodic crystal (a template needs a cell)")
        self.symprec, self.source, self.digest = float(symprec), source, digest
        self._by_anonymous: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for k, atoms in enumerate(self.structures):
            self._by_anonymous[anonymous_key(atoms.numbers)].append(k)
        self._wyckoffs: dict[int, tuple[int, list[str]]] = {}
        self._ranked: dict[tuple[int, ...], list[Candidate]] = {}

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], symprec: float = 0.1) -> TemplateLibrary:
        """Read any file :func:`ase_rm.read_structures` reads (the MP-20 CSV, extxyz, a CIF folder)."""
        from ase_rm import read_structures

        p = Path(path)
        structures = read_structures(p)
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        return cls(structures, symprec=symprec, source=p.name, digest=digest)

    def name(self, k: int) -> str:
        return str(self.structures[k].info.get("material_id", k))

    def _symmetry(self, k: int) -> tuple[int, list[str]]:
        """(space group number, Wyckoff letter per atom) of template k (P1, all 'a', if spglib fails)."""
        if k not in self._wyckoffs:
            import spglib

            from ..analysis import quiet_spglib

            atoms = self.structures[k]
            with quiet_spglib():
                data = spglib.get_symmetry_dataset(
                    (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers), symprec=self.symprec)
            self._wyckoffs[k] = (1, ["a"] * len(atoms)) if data is None else \
                (int(data.number), [str(w) for w in data.wyckoffs])
        return self._wyckoffs[k]

    def candidates(self, numbers: Sequence[int] | np.ndarray, exclude_same_formula: bool = False) -> list[Candidate]:
        """Every template and element assignment for a cell of these atomic numbers, in library order."""
        target, _ = _reduced(numbers)
        n_atoms = len(numbers)
        out = []
        for k in self._by_anonymous.get(anonymous_key(numbers), []):
            atoms = self.structures[k]
            if n_atoms % len(atoms):
                continue
            own, _ = _reduced(atoms.numbers)
            if exclude_same_formula and own == target:
                continue
            group, letters = self._symmetry(k)
            for perm in itertools.permutations(sorted(target)):
                mapping = dict(zip(sorted(own), perm, strict=True))
                if any(own[a] != target[b] for a, b in mapping.items()):
                    continue
                score = sum(abs(mendeleev_number(a) - mendeleev_number(b)) * target[b]
                            for a, b in mapping.items()) / sum(target.values())
                sites = tuple(sorted((mapping[int(z)], w) for z, w in zip(atoms.numbers, letters, strict=True)))
                out.append(Candidate(k, tuple(sorted(mapping.items())), float(score), (group, sites)))
        return out

    def ranked(self, numbers: Sequence[int] | np.ndarray, exclude_same_formula: bool = False) -> list[Candidate]:
        """One candidate per distinct structure type, the most alike in chemistry first (see the module doc)."""
        key = (*sorted(int(z) for z in numbers), -1 if exclude_same_formula else 0)
        if key not in self._ranked:
            self._ranked[key] = most_alike_first(self.candidates(numbers, exclude_same_formula))
        return self._ranked[key]

    def build(self, candidate: Candidate, n_atoms: int, volume: float) -> Atoms:
        """The candidate's structure with the target's elements, as a supercell of ``n_atoms``
        atoms (the most compact repetition), scaled isotropically to ``volume`` Å^3."""
        atoms = self.structures[candidate.template]
        factor = n_atoms // len(atoms)
        mapping = dict(candidate.mapping)
        out = Atoms(numbers=[mapping[int(z)] for z in atoms.numbers], scaled_positions=atoms.get_scaled_positions(),
                    cell=atoms.cell[:], pbc=True)
        if factor > 1:
            out = out.repeat(_compact_repeat(out.cell.lengths(), factor))
        out.set_cell(out.cell[:] * (volume / out.get_volume()) ** (1 / 3), scale_atoms=True)
        out.wrap()
        out.info[START_KIND] = "template"
        out.info[START_TEMPLATE] = self.name(candidate.template)
        out.info[START_TEMPLATE_FORMULA] = atoms.get_chemical_formula(empirical=True)
        return out


def most_alike_first(candidates: Sequence[Candidate]) -> list[Candidate]:
    """One candidate per structure type, by score (stable: ties keep their order), lowest first."""
    seen: set[tuple[object, ...]] = set()
    best = []
    for c in sorted(candidates, key=lambda c: c.score):
        if c.kind not in seen:
            seen.add(c.kind)
            best.append(c)
    return best


def _compact_repeat(lengths: np.ndarray, factor: int) -> tuple[int, int, int]:
    """(a, b, c) with a b c = factor whose repeated cell lengths are the most alike."""
    best: tuple[float, tuple[int, int, int]] | None = None
    for a in range(1, factor + 1):
        for b in range(1, factor // a + 1):
            if factor % (a * b):
                continue
            reps = (a, b, factor // (a * b))
            grown = np.asarray(lengths) * reps
            spread = float(grown.max() / grown.min())
            if best is None or spread < best[0] - 1e-9:
                best = (spread, reps)
    assert best is not None
    return best[1]


TEMPLATE_VOLUMES = ("fit", "template")
"""Where a template start's volume comes from (:class:`TemplateStarts`)."""


class TemplateStarts:
    """A :data:`ase_rm.rss.StartMaker` whose attempt k of a composition starts from
    the k-th distinct structure type of a :class:`TemplateLibrary` (module doc).

    Args:
        library: the known structures.
        stride: attempt indices of one composition are ``key * stride + k``
            (:data:`.campaign.ATTEMPT_STRIDE`); k picks the template.
        exclude_same_formula: skip templates whose reduced formula is the target's
            (to measure prediction by analogy only).
        volume: ``"fit"``: the protocol's start volume (the checkpoint's per-element
            fit); ``"template"``: the template's own volume, times the ratio of the
            fitted volumes of the target's and the template's elements (the fit
            where an element has no fitted volume, or the protocol sets a volume).

    Attempts past the last distinct type, and molecule specs, get the plain start.
    """

    takes_attempt = True
    """:func:`ase_rm.rss.search` passes ``attempt=`` (the attempt index) to makers that say so."""

    def __init__(self, library: TemplateLibrary, stride: int, exclude_same_formula: bool = False,
                 volume: str = "fit") -> None:
        if stride < 1:
            raise ValueError(f"stride must be >= 1, not {stride}")
        if volume not in TEMPLATE_VOLUMES:
            raise ValueError(f"volume must be one of {TEMPLATE_VOLUMES}, not {volume!r}")
        self.library, self.stride, self.exclude_same_formula = library, int(stride), bool(exclude_same_formula)
        self.volume = volume

    def __call__(self, spec: StartSpec, composition: object, rng: np.random.Generator,
                 element_volumes: Mapping[int | str, float] | None = None, *, attempt: int = 0) -> Atoms:
        if spec.kind == "crystal":
            numbers = composition_numbers(composition)  # type: ignore[arg-type]
            ranked = self.library.ranked(numbers, self.exclude_same_formula)
            k = attempt % self.stride
            if k < len(ranked):
                volume = start_volume(spec, numbers, rng, element_volumes)
                if self.volume == "template" and element_volumes and spec.volume_per_atom is None \
                        and spec.volume_range is None:
                    volume = self._template_volume(ranked[k], element_volumes, volume)
                return self.library.build(ranked[k], len(numbers), volume)
        atoms = random_start(spec, composition, rng, element_volumes)  # type: ignore[arg-type]
        if spec.kind == "crystal":
            atoms.info[START_KIND] = "random"
        return atoms

    def _template_volume(self, candidate: Candidate, element_volumes: Mapping[int | str, float],
                         fitted: float) -> float:
        """``fitted`` (the target cell's fit) times the template's volume over its own fit (the
        ratio does not depend on the supercell), or ``fitted`` if an element has no fit."""
        from ase_rm.rss import StartError, target_volume

        atoms = self.library.structures[candidate.template]
        try:
            own = target_volume(atoms.numbers, element_volumes=element_volumes)
        except StartError:  # an element of the template without a fitted volume
            return fitted
        return fitted * float(atoms.get_volume()) / own
