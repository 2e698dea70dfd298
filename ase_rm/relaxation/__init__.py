"""Batched structure relaxation: FIRE with an optional Frechet cell filter.

Public API::

    from ase_rm.relaxation import relax, iter_relax, RelaxOptions
    from ase_rm.relaxation import relax_init, relax_step, pop_finished, concat_states  # own pool logic

Options: ``RelaxOptions.skin`` sets the Verlet skin of the neighbour lists
(:class:`NeighbourLists`; 0.5 Å by default, 0 rebuilds them at every step).
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
from .neighbours import NeighbourLists

__all__ = [
    "CELL_MODES",
    "CellMode",
    "FireParams",
    "FireState",
    "NeighbourLists",
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
