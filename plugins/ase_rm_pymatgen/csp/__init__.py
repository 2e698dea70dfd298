"""Crystal structure prediction: starts, templates, campaigns, ranking, recipes and benchmarks.

Modules, in the order a search uses them:

- :mod:`.symmetric`: symmetric starts (random space groups, PyXtal tables).
- :mod:`.templates`: template starts (known structure types with the target's elements).
- :mod:`.campaign`: resumable searches over many compositions into one extxyz file.
- :mod:`.benchmark`: the 15-composition benchmark of the paper (``ase-rm csp``):
  match every attempt with its ground truth, E~ ranks, distinct structures.

The old module paths (``ase_rm_pymatgen.campaign``, ``.templates``,
``.symmetric``) still import: :mod:`ase_rm_pymatgen` registers them as aliases.
"""

from __future__ import annotations

from .benchmark import (
    ATTEMPT_COLUMNS,
    GT_COLUMNS,
    TOP_K,
    CSPResult,
    CSPTarget,
    distinct_ranks,
    energy_ranks,
    evaluate_csp,
    match_attempts,
    match_rms,
    read_csp_targets,
    relax_ground_truths,
    run_csp,
    summarise_attempts,
)
from .campaign import ATTEMPT_STRIDE, attempt_number, canonical_formula, generate_compositions

__all__ = [
    "ATTEMPT_COLUMNS",
    "ATTEMPT_STRIDE",
    "GT_COLUMNS",
    "TOP_K",
    "CSPResult",
    "CSPTarget",
    "attempt_number",
    "canonical_formula",
    "distinct_ranks",
    "energy_ranks",
    "evaluate_csp",
    "generate_compositions",
    "match_attempts",
    "match_rms",
    "read_csp_targets",
    "relax_ground_truths",
    "run_csp",
    "summarise_attempts",
]
