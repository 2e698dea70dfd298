"""Selection by E~: keep the lowest-E~ attempts of each composition, or the best of K.

A user of random structure search ranks candidates by the pseudo energy. This
makes that explicit and reproducible: run more attempts than needed, keep the
``k`` lowest-E~ of each composition (converged ones first), and report what
the selection started from (``ase-rm select`` prints it).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from ase import Atoms

from .. import keys
from ..errors import RMError


def _energy(atoms: Atoms) -> float:
    value = atoms.info.get(keys.RM_ENERGY)
    if value is None:
        raise RMError(f"a structure has no {keys.RM_ENERGY!r} in atoms.info (not an ase-rm generate output?)")
    value = float(value)
    return math.inf if math.isnan(value) else value / len(atoms)


def _attempt(atoms: Atoms) -> int:
    """A frame's ``rm_attempt``; RMError if it has none."""
    if keys.RM_ATTEMPT not in atoms.info:
        raise RMError(f"a structure has no {keys.RM_ATTEMPT!r} in atoms.info (not an ase-rm generate output?)")
    return int(atoms.info[keys.RM_ATTEMPT])


def rank_key(atoms: Atoms) -> tuple[bool, float]:
    """How selection by E~ orders a group's frames (ascending): converged first,
    then by E~ per atom (a missing or NaN energy last)."""
    return not bool(atoms.info.get(keys.RM_CONVERGED, False)), _energy(atoms)


RANKINGS: dict[str, Callable[[Atoms], Any]] = {"energy": rank_key}
"""The rankings built into the core: ``energy`` (:func:`rank_key`, the default).
Plugins add others through the :data:`RANKING_GROUP` entry points."""

RANKING_GROUP = "ase_rm.rankings"
"""Entry-point group through which installed plugins add rankings for best-of-K
(``ase-rm select --best-of K --rank-by NAME``): each entry point names a rank key,
a function ``Atoms -> tuple`` ordered ascending (best first), such as the
molecules plugin's ``bonds`` and ``valence``. The core discovers them by entry
point and never imports a plugin by name."""


def _plugin_rankings() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=RANKING_GROUP) if ep.name not in RANKINGS}


def ranking_names() -> list[str]:
    """Every ranking :func:`ranking` knows: the core's, then the installed plugins'."""
    return [*RANKINGS, *sorted(_plugin_rankings())]


def ranking(name: str) -> Callable[[Atoms], Any]:
    """The rank key called ``name``: one of :data:`RANKINGS`, or one a plugin
    registers in the :data:`RANKING_GROUP` entry points (RMError if neither)."""
    if name in RANKINGS:
        return RANKINGS[name]
    found = _plugin_rankings().get(name)
    if found is None:
        raise RMError(f"unknown ranking {name!r}; choose one of {ranking_names()} "
                      "(bonds and valence come with the molecules plugin: pip install 'ase-rm[molecules]')")
    try:
        return found.load()  # type: ignore[no-any-return]
    except ImportError as exc:
        raise RMError(f"ranking {name!r} needs a plugin whose dependencies are missing: {exc}") from exc


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
    numbers = [_attempt(atoms) for atoms in frames]
    keep = {i for members in _groups(frames, k, group_key) for i in sorted(members, key=numbers.__getitem__)[:k]}
    return [frames[i] for i in sorted(keep)]


def best_of_blocks(frames: Sequence[Atoms], k: int, rank_by: str = "energy") -> list[Atoms]:
    """Best-of-``k`` attempts from single relaxations: relaxations ``i*k .. i*k+k-1``
    (by ``rm_attempt``) form attempt ``i``, which keeps the one the ranking ``rank_by``
    (:func:`ranking`; default :func:`rank_key`) puts first (ties: the lower number).

    Applied to a plain run with ``k`` times the attempts per composition, this
    gives exactly what ``ase-rm generate --best-of k`` makes (same starts, same
    kicks). Each kept frame is a copy with ``rm_attempt = i``, ``rm_relaxation``
    its own number, ``rm_best_of = k`` and ``rm_rank_by = rank_by``; returned in attempt order.

    Raises:
        RMError: ``k < 1``, an unknown ``rank_by``, a frame without ``rm_attempt``, a frame already
            selected, a block that does not hold all ``k`` relaxations, or one
            that mixes compositions.
    """
    if k < 1:
        raise RMError(f"k must be >= 1, got {k}")
    key = ranking(rank_by)
    blocks: dict[int, list[Atoms]] = {}
    for atoms in frames:
        number = _attempt(atoms)
        if keys.RM_BEST_OF in atoms.info:
            raise RMError("the structures are already a best-of selection (they carry rm_best_of)")
        blocks.setdefault(number // k, []).append(atoms)
    chosen = []
    for i in sorted(blocks):
        members = blocks[i]
        numbers = sorted(_attempt(a) for a in members)
        if numbers != list(range(i * k, i * k + k)):
            raise RMError(f"attempt {i} of best-of-{k} needs relaxations {i * k}..{i * k + k - 1}, found {numbers}")
        if len({group_of(a) for a in members}) > 1:
            raise RMError(f"attempt {i} of best-of-{k} would mix compositions: a plain run's attempts per "
                          f"composition must be a multiple of {k}")
        best = min(members, key=lambda a: (*key(a), _attempt(a)))
        out = best.copy()
        out.info[keys.RM_RELAXATION] = _attempt(best)
        out.info[keys.RM_ATTEMPT] = i
        out.info[keys.RM_BEST_OF] = k
        out.info[keys.RM_RANK_BY] = rank_by
        chosen.append(out)
    return chosen
