"""The ``csp`` generation signal: crystal structure prediction on validation compositions.

Registered in the ``ase_rm.signals`` entry-point group (see
:mod:`ase_rm.training.signal`): ``[train] signal = "csp"`` in a run file. For
each validation composition (the cell formula of a validation structure), the
run's attempts are matched against every validation structure of that
composition with the paper's ``StructureMatcher(stol=0.5, ltol=0.3,
angle_tol=10)``, as ``ase-rm csp`` matches its ground truths.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ase import Atoms

from ase_rm.keys import RM_CONVERGED, RM_ENERGY, RM_FORMULA

from ..reference import paper_matcher
from .benchmark import _as_crystal, match_rms


def csp_signal(frames: Sequence[Atoms], references: Mapping[str, Sequence[Atoms]]) -> dict[str, float]:
    """``score`` = match rate at k (a composition counts when any of its attempts matches one
    of its validation structures), plus the match rate of the lowest-E~ attempt (at 1) and
    the converged fraction. Non-converged attempts never match."""
    matcher = paper_matcher()
    truths = {
        label: [c for c in (_as_crystal(a) for a in refs) if c is not None] for label, refs in references.items()
    }
    by_label: dict[str, list[Atoms]] = {label: [] for label in truths}
    for atoms in frames:
        by_label.setdefault(str(atoms.info.get(RM_FORMULA)), []).append(atoms)
    at_k = at_1 = 0
    for label, structures in truths.items():
        done = [a for a in by_label[label] if a.info.get(RM_CONVERGED)]
        hits = [any(match_rms(matcher, truth, a) is not None for truth in structures) for a in done]
        at_k += any(hits)
        if done:
            lowest = min(range(len(done)), key=lambda k: float(done[k].info.get(RM_ENERGY, float("inf"))))
            at_1 += hits[lowest]
    n = max(len(truths), 1)
    converged = sum(bool(a.info.get(RM_CONVERGED)) for a in frames) / max(len(frames), 1)
    return {"score": at_k / n, "match_at_k": at_k / n, "match_at_1": at_1 / n, "converged": converged}
