"""ase-rm plugin: pseudo-phonon stability checks with phonopy (uses only ase_rm's public API).

Public API::

    from ase_rm_phonopy import phonon_check, check_structures, PhononResult, supercell_for

``phonon_check(structure, model)`` answers: is this relaxed crystal a minimum
of E~ (all pseudo-phonon frequencies real) or a saddle (some imaginary)?
"""

from __future__ import annotations

from .phonons import (
    DISPLACEMENT,
    MIN_LENGTH,
    STATIONARY_FMAX,
    TOLERANCE,
    PhononResult,
    check_structures,
    mode_displacement,
    phonon_check,
    supercell_for,
)

__all__ = [
    "DISPLACEMENT",
    "MIN_LENGTH",
    "STATIONARY_FMAX",
    "TOLERANCE",
    "PhononResult",
    "check_structures",
    "mode_displacement",
    "phonon_check",
    "supercell_for",
]
