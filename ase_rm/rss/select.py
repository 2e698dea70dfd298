"""Selection by E~: keep the lowest-E~ attempts of each composition.

A user of random structure search ranks candidates by the pseudo energy. This
makes that explicit and reproducible: run more attempts than needed, keep the
``k`` lowest-E~ of each composition (converged ones first), and report what
the selection started from (``ase-rm select`` prints it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ase import Atoms

from .. import keys
from ..errors import RMError


def _energy(atoms: Atoms) -> float:
    value = atoms.info.get(keys.RM_ENERGY)
    if value is None:
        raise RMError(f"a structure has no {keys.RM_ENERGY!r} in atoms.info (not an ase-rm generate output?)")
    value = float(value)
    return math.inf if math.isnan(value) else value / len(atoms)


def rank_key(atoms: Atoms) -> tuple[bool, float]:
    """How selection by E~ orders a group's frames (ascending): converged first,
    then by E~ per atom (a missing or NaN energy last)."""
    return not bool(atoms.info.get(keys.RM_CONVERGED, False)), _energy(atoms)


def group_of(atoms: Atoms, group_key: str = keys.RM_FORMULA) -> str:
    """The group of a frame: ``info[group_key]``, else its chemical formula."""
    return str(atoms.info.get(group_key, atoms.get_chemical_formula()))


def _groups(frames: Sequence[Atoms], k: int, group_key: str) -> list[list[int]]:
    """Frame indices by group, in input order (checks ``k``)."""
    if k < 1:
        raise RMError(f"k must be >= 1, got {k}")
    groups: dict[str, list[int]] = {}
    for i, atoms in enumerate(frames):
        groups.setdefault(group_of(atoms, group_key), []).append(i)
    return list(groups.values())


def select_lowest(frames: Sequence[Atoms], k: int, group_key: str = keys.RM_FORMULA) -> list[Atoms]:
    """The ``k`` lowest-E~ (per atom) frames of each group, converged frames first.

    Args:
        frames: generated structures with ``rm_energy`` (and ``rm_converged``).
        k: how many to keep per group (all of a smaller group are kept).
        group_key: atoms.info key of the group (default the composition asked
            for); frames without it are grouped by chemical formula.

    Returns:
        The kept frames in their input order.
    """
    keep: set[int] = set()
    for members in _groups(frames, k, group_key):
        ranked = sorted(members, key=lambda i: (*rank_key(frames[i]), i))
        keep.update(ranked[:k])
    return [frames[i] for i in sorted(keep)]


def select_first(frames: Sequence[Atoms], k: int, group_key: str = keys.RM_FORMULA) -> list[Atoms]:
    """The ``k`` lowest-numbered attempts (``rm_attempt``) of each group: a plain
    ``k``-attempt run's worth taken from a larger one, without looking at E~."""
    if any(keys.RM_ATTEMPT not in atoms.info for atoms in frames):
        raise RMError(f"a structure has no {keys.RM_ATTEMPT!r} in atoms.info (not an ase-rm generate output?)")
    keep = {i for members in _groups(frames, k, group_key)
            for i in sorted(members, key=lambda i: int(frames[i].info[keys.RM_ATTEMPT]))[:k]}
    return [frames[i] for i in sorted(keep)]
