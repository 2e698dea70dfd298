"""Ranked candidates: what a CSP method hands a user, best first, duplicates merged.

A search makes n attempts per composition; several relax into one structure.
:func:`rank_candidates` sorts the attempts by an energy per atom (E~ by default,
or a physical MLIP's energy after :mod:`.physical`), merges every attempt into
the first lower-energy candidate that StructureMatcher finds equal to it (the
benchmark's matcher), and numbers what is left: ``csp_rank`` 1 is the structure
the method would hand a user. Each candidate carries, in ``atoms.info``:

- ``csp_id``: the input row's id (``material_id`` when the input has one, else the row number);
- ``csp_rank``: 1, 2, ... in ranking order;
- ``csp_energy_per_atom``: the energy it was ranked by, eV/atom;
- ``csp_ranked_by``: ``"rm_energy"`` (E~) or the physical calculator's name;
- ``csp_times_found``: how many attempts merged into it (itself included).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ase import Atoms
from pymatgen.analysis.structure_matcher import StructureMatcher

from ..analysis import energy_of
from ..reference import paper_matcher
from .benchmark import distinct_ranks, energy_ranks

CSP_ID = "csp_id"
"""atoms.info key: the input row's id (material_id, else the row number as text)."""
CSP_RANK = "csp_rank"
"""atoms.info key: 1 = the candidate the method would hand a user."""
CSP_ENERGY_PER_ATOM = "csp_energy_per_atom"
"""atoms.info key: the energy the ranking used, eV/atom."""
CSP_RANKED_BY = "csp_ranked_by"
"""atoms.info key: "rm_energy" (the pseudo energy E~) or the physical calculator's name."""
CSP_TIMES_FOUND = "csp_times_found"
"""atoms.info key: attempts merged into this candidate (itself included)."""


def rm_energy_per_atom(atoms: Atoms) -> float | None:
    """E~ per atom (eV/atom) from ``rm_energy``, or None."""
    energy = energy_of(atoms)
    return None if energy is None or not math.isfinite(energy) else energy / len(atoms)


def rank_candidates(
    structures: Sequence[Atoms],
    csp_id: str,
    energies_per_atom: Sequence[float | None] | None = None,
    ranked_by: str = "rm_energy",
    matcher: StructureMatcher | None = None,
    weights: Sequence[int] | None = None,
) -> list[Atoms]:
    """Distinct candidates in ranking order, each a copy carrying the keys of the module doc.

    Args:
        structures: every attempt of one composition (not modified).
        csp_id: the input row's id.
        energies_per_atom: the ranking energy per structure, eV/atom (default:
            E~ per atom from ``rm_energy``); None or NaN ranks last.
        ranked_by: what the energies are (written to ``csp_ranked_by``).
        matcher: duplicate test (default: the benchmark's StructureMatcher).
        weights: attempts each structure stands for (default 1 each), summed into ``csp_times_found``.
    """
    if energies_per_atom is None:
        energies_per_atom = [rm_energy_per_atom(a) for a in structures]
    if len(energies_per_atom) != len(structures):
        raise ValueError(f"{len(energies_per_atom)} energies for {len(structures)} structures")
    ranks = energy_ranks(energies_per_atom)
    groups = distinct_ranks(structures, ranks, matcher or paper_matcher())
    counts: dict[int, int] = {}
    for k, (group, _) in enumerate(groups):
        counts[group] = counts.get(group, 0) + (1 if weights is None else int(weights[k]))
    out = []
    for k, (group, first) in enumerate(groups):
        if not first:
            continue
        atoms = structures[k].copy()
        energy = energies_per_atom[k]
        atoms.info.update({CSP_ID: str(csp_id), CSP_RANK: group, CSP_RANKED_BY: ranked_by,
                           CSP_ENERGY_PER_ATOM: math.nan if energy is None else float(energy),
                           CSP_TIMES_FOUND: counts[group]})
        out.append(atoms)
    return sorted(out, key=lambda a: int(a.info[CSP_RANK]))
