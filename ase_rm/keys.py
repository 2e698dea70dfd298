"""Every key ase_rm reads or writes, with its shape and unit.

Units follow ASE: eV, Å, eV/Å, eV/Å^3; cell vectors are rows; stress uses
ASE's sign (positive = the cell wants to shrink) and, in ``atoms.info``, ASE's
Voigt order ``xx yy zz yz xz xy``.

Targets are stored under ``rm_`` names, never a bare ``forces`` or ``stress``
that ASE could move into a SinglePointCalculator on read.
"""

from __future__ import annotations

# --- atoms.arrays (per atom) -------------------------------------------------
RM_FORCES = "rm_forces"
"""(n_atoms, 3) float, eV/Å: the fictitious restoring force (training target)."""

RM_DISPLACEMENT = "rm_displacement"
"""(n_atoms, 3) float, Å: the displacement d that was applied (minimum image)."""

# --- atoms.info (per structure) ----------------------------------------------
RM_STRESS = "rm_stress"
"""(6,) float, eV/Å^3, Voigt xx yy zz yz xz xy, ASE sign: the strain response."""

RM_NOISE_LEVEL = "rm_noise_level"
"""float: the displacement noise level s of a noised frame."""

RM_STRAIN_SCALE = "rm_strain_scale"
"""float: the isotropic strain scale a of a noised crystal frame (0 for molecules)."""

RM_SOURCE_INDEX = "rm_source_index"
"""int: index of the equilibrium structure a noised frame came from."""

RM_ENERGY = "rm_energy"
"""float, eV: total pseudo energy E~ of a generated or relaxed structure."""

RM_CONVERGED = "rm_converged"
"""bool: whether a relaxation reached its fmax."""

RM_STEPS = "rm_steps"
"""int: optimiser steps taken by a relaxation."""

RM_ATTEMPT = "rm_attempt"
"""int: the attempt number of a generated structure (its random start is seeded by it)."""

RM_BEST_OF = "rm_best_of"
"""int: K of a best-of-K generation (``ase-rm generate --best-of K``): the attempt relaxed K
random starts and kept the one ranked first (:data:`RM_RANK_BY`; by default the lowest-E~ one,
converged first)."""

RM_RANK_BY = "rm_rank_by"
"""str: in a best-of-K generation, how the kept relaxation was picked: "energy" (converged, then
lowest E~ per atom), or a ranking a plugin registers, e.g. the molecules plugin's "bonds"
(converged, then passing its bond screen, then lowest E~) and "valence" (as "bonds", then
having a neutral Lewis structure); see :func:`ase_rm.rss.select.ranking`."""

RM_RELAXATION = "rm_relaxation"
"""int: in a best-of-K generation, the relaxation an attempt kept. Attempt i relaxes the starts
numbered i*K .. i*K+K-1, which are those of attempts i*K+r of a plain run with K times the
attempts; the ``.restarts`` file beside the output holds all of them under those numbers."""

RM_FORMULA = "rm_formula"
"""str: the composition a generated structure was asked for."""

RM_STAGE_CONVERGED = "rm_stage_converged"
"""str: per-stage convergence of a generated structure, one letter per stage, C or N (e.g. "NC");
F where the stage could not run (see RM_ERROR); R where a stage with ``accept="lower"`` was
rejected (the structure before it was kept)."""

RM_ERROR = "rm_error"
"""str: why a generation stage could not run on an attempt (e.g. two atoms fell onto each other
in the stage before); the attempt keeps its last geometry and energy, counts as not converged,
skips the later stages and has "F" for that stage in rm_stage_converged."""

# --- results of Potential.forward --------------------------------------------
ENERGY = "energy"
"""(n_structures,) tensor, eV: total energy per structure."""

ATOMIC_ENERGIES = "energies"
"""(n_atoms,) tensor, eV: per-atom energies E_i."""

FORCES = "forces"
"""(n_atoms, 3) tensor, eV/Å: -dE/dx."""

STRESS = "stress"
"""(n_structures, 3, 3) tensor, eV/Å^3, ASE sign: (1/V) dE/d(strain)."""
