"""What tests of ase_rm and of its plugins build on.

- The model contract suite (:mod:`ase_rm.testing.contracts`): every denoiser
  variant must pass these checks (finite-difference forces and stress,
  invariances, batched == single, extensivity, smooth cutoff, calculator ==
  potential)::

      from ase_rm.testing import run_contracts
      run_contracts(potential)

- The serial ASE reference of random structure search
  (:mod:`ase_rm.testing.reference`): :func:`search_with_ase` runs
  :func:`ase_rm.rss.search`'s attempts one at a time through an ASE
  calculator and optimizer.
"""

from __future__ import annotations

from .contracts import (
    TOLERANCES,
    check_batched_equals_single,
    check_calculator_matches,
    check_cutoff_smooth,
    check_extensivity,
    check_forces_fd,
    check_invariance,
    check_stress_fd,
    default_structures,
    evaluate,
    run_contracts,
)
from .reference import ase_stages, relax_with_ase, search_with_ase

__all__ = [
    "TOLERANCES",
    "ase_stages",
    "check_batched_equals_single",
    "check_calculator_matches",
    "check_cutoff_smooth",
    "check_extensivity",
    "check_forces_fd",
    "check_invariance",
    "check_stress_fd",
    "default_structures",
    "evaluate",
    "relax_with_ase",
    "run_contracts",
    "search_with_ase",
]
