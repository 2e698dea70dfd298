"""Batched structure relaxation: FIRE with an optional Frechet cell filter.

Public API::

    from ase_rm.relax import relax, iter_relax, RelaxOptions
    from ase_rm.relax import relax_init, relax_step, pop_finished, concat_states  # own pool logic
"""

from __future__ import annotations

from .cell import CELL_MODES, CellMode
from .engine import (
    RelaxOptions,
    RelaxState,
    concat_states,
    iter_relax,
    pop_finished,
    relax,
    relax_init,
    relax_step,
    results,
    select,
)
from .fire import FireParams, FireState, fire_init, fire_step

__all__ = [
    "CELL_MODES",
    "CellMode",
    "FireParams",
    "FireState",
    "RelaxOptions",
    "RelaxState",
    "concat_states",
    "fire_init",
    "fire_step",
    "iter_relax",
    "pop_finished",
    "relax",
    "relax_init",
    "relax_step",
    "results",
    "select",
]
