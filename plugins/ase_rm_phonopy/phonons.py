"""Pseudo-phonon stability check of a relaxed crystal with RMCalculator forces (phonopy).

A relaxed structure is a stationary point of E~; it is a minimum only if
every harmonic frequency of E~ is real. Finite displacements in a supercell
(phonopy) give force constants whose dynamical matrix is exact at the
q-points commensurate with that supercell, whatever the model's range, so
the check looks there (Gamma included) and interpolates nowhere.
Frequencies are in THz for E~ in eV, Å and atomic masses in amu (phonopy's
default units); imaginary ones are reported as negative numbers.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import BaseCalculator

from ase_rm import InvalidStructureError, RMCalculator, as_atoms

ModelLike = str | os.PathLike[str] | BaseCalculator
"""A checkpoint path, a shipped model name, or a loaded ASE calculator (an RMCalculator normally)."""

MIN_LENGTH = 6.0
"""Å: default smallest width of the supercell along each lattice direction."""
DISPLACEMENT = 0.01
"""Å: default finite displacement."""
TOLERANCE = 0.05
"""THz: frequencies below -TOLERANCE count as imaginary (acoustic modes at Gamma are ~0)."""
STATIONARY_FMAX = 0.02
"""eV/Å: largest residual force at which a structure counts as stationary (the verdict means something)."""


@dataclass(frozen=True)
class PhononResult:
    """Harmonic frequencies of E~ at the q-points commensurate with the supercell.

    Attributes:
        qpoints: (n_q, 3) reduced coordinates in the input cell's reciprocal lattice.
        frequencies: (n_q, 3 n_atoms) THz, ascending per q-point; imaginary as negative.
        supercell_matrix: (3, 3) int, supercell = matrix @ cell.
        max_force: largest residual force of the undisplaced structure, eV/Å
            (a harmonic analysis is only meaningful near a stationary point).
        tolerance: THz; frequencies below -tolerance are imaginary.
        eigenvectors: (n_q, 3 n_atoms, 3 n_atoms) complex, columns are modes (phonopy's layout).
        phonopy: the phonopy object, for band structures and DOS.
    """

    qpoints: np.ndarray
    frequencies: np.ndarray
    supercell_matrix: np.ndarray
    max_force: float
    tolerance: float = TOLERANCE
    eigenvectors: np.ndarray | None = field(default=None, repr=False, compare=False)
    phonopy: Any = field(default=None, repr=False, compare=False)

    @property
    def lowest_frequency(self) -> float:
        """The lowest frequency over all q-points, THz (negative: imaginary)."""
        return float(self.frequencies.min())

    @property
    def lowest_qpoint(self) -> np.ndarray:
        """(3,) reduced q-point of the lowest frequency."""
        return np.asarray(self.qpoints[int(np.argmin(self.frequencies.min(axis=1)))])

    @property
    def n_imaginary(self) -> int:
        """Number of modes (over all q-points) with frequency below -tolerance."""
        return int((self.frequencies < -self.tolerance).sum())

    @property
    def stationary(self) -> bool:
        """True when the undisplaced structure's largest force is at most :data:`STATIONARY_FMAX`."""
        return self.max_force <= STATIONARY_FMAX

    @property
    def stable(self) -> bool:
        """True when no mode is imaginary: a local minimum of E~ (at these q-points)."""
        return self.n_imaginary == 0


def supercell_for(atoms: Atoms, min_length: float = MIN_LENGTH) -> np.ndarray:
    """Smallest diagonal supercell whose width along every lattice direction is >= min_length.

    Args:
        atoms: a 3-D periodic structure.
        min_length: Å.

    Returns:
        (3, 3) int diagonal matrix.
    """
    cell = atoms.cell.array
    volume = abs(np.linalg.det(cell))
    widths = [volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3])) for i in range(3)]
    return np.diag([max(1, math.ceil(min_length / w - 1e-9)) for w in widths]).astype(int)


SupercellLike = int | Sequence[int] | np.ndarray
"""An int n (n x n x n), three ints (diagonal) or a 3x3 int matrix."""


def _supercell_matrix(atoms: Atoms, supercell: SupercellLike | None, min_length: float) -> np.ndarray:
    if supercell is None:
        return supercell_for(atoms, min_length)
    matrix = np.asarray(supercell, dtype=int)
    if matrix.ndim == 0:
        matrix = np.eye(3, dtype=int) * int(matrix)
    elif matrix.shape == (3,):
        matrix = np.diag(matrix)
    if matrix.shape != (3, 3) or round(abs(np.linalg.det(matrix))) < 1:
        raise ValueError(f"supercell must be an int, 3 ints or a non-singular 3x3 int matrix, not {supercell!r}")
    return matrix


def calculator_for(model: ModelLike, dtype: torch.dtype = torch.float64) -> BaseCalculator:
    """The calculator itself, or an RMCalculator loaded from a checkpoint path or name."""
    if isinstance(model, BaseCalculator):
        return model
    return RMCalculator.from_checkpoint(model, dtype=dtype)


def _forces(calc: BaseCalculator, cells: Sequence[Any]) -> np.ndarray:
    out = []
    for cell in cells:
        atoms = Atoms(numbers=cell.numbers, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True)
        atoms.calc = calc
        out.append(np.array(atoms.get_forces()))
    return np.array(out)


def phonon_check(
    structure: Any,
    model: ModelLike,
    supercell: SupercellLike | None = None,
    min_length: float = MIN_LENGTH,
    displacement: float = DISPLACEMENT,
    tolerance: float = TOLERANCE,
    symprec: float = 1e-5,
    dtype: torch.dtype = torch.float64,
) -> PhononResult:
    """Pseudo-phonons of one relaxed crystal on E~.

    Args:
        structure: a 3-D periodic ASE Atoms or pymatgen Structure (relaxed on E~ first).
        model: checkpoint path, shipped name, or an ASE calculator (an RMCalculator,
            or any other to compare against).
        supercell: int, 3 ints or a 3x3 matrix; default: :func:`supercell_for` with ``min_length``.
        min_length: Å, used when ``supercell`` is None.
        displacement: finite displacement, Å.
        tolerance: THz; frequencies below -tolerance count as imaginary.
        symprec: phonopy's symmetry tolerance for the displacement set, Å.
        dtype: torch dtype when loading a checkpoint (float64: clean finite differences).

    Raises:
        InvalidStructureError: the structure is not 3-D periodic.
    """
    from phonopy import Phonopy
    from phonopy.harmonic.dynmat_to_fc import get_commensurate_points
    from phonopy.structure.atoms import PhonopyAtoms

    atoms = as_atoms(structure)
    if not atoms.pbc.all():
        raise InvalidStructureError("a phonon check needs a 3-D periodic crystal")
    calc = calculator_for(model, dtype)
    probe = atoms.copy()
    probe.calc = calc
    max_force = float(np.linalg.norm(probe.get_forces(), axis=1).max())
    matrix = _supercell_matrix(atoms, supercell, min_length)
    unit = PhonopyAtoms(numbers=atoms.numbers, cell=atoms.cell.array, scaled_positions=atoms.get_scaled_positions())
    phonon = Phonopy(unit, supercell_matrix=matrix, primitive_matrix="P", symprec=symprec)
    phonon.generate_displacements(distance=displacement)
    phonon.forces = _forces(calc, phonon.supercells_with_displacements or [])
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()
    qpoints = get_commensurate_points(phonon.supercell_matrix)
    phonon.run_qpoints(qpoints, with_eigenvectors=True)
    solved = phonon.qpoints
    assert solved is not None  # set by run_qpoints
    return PhononResult(
        qpoints=np.asarray(qpoints), frequencies=np.asarray(solved.frequencies),
        supercell_matrix=matrix, max_force=max_force, tolerance=tolerance,
        eigenvectors=np.asarray(solved.eigenvectors), phonopy=phonon,
    )


def check_structures(structures: Sequence[Any], model: ModelLike, **kwargs: Any) -> list[PhononResult]:
    """:func:`phonon_check` of several crystals with one loaded model (kwargs as there)."""
    calc = calculator_for(model, kwargs.pop("dtype", torch.float64))
    return [phonon_check(s, calc, **kwargs) for s in structures]


def mode_displacement(result: PhononResult, q_index: int = 0, mode: int = 0) -> np.ndarray:
    """Real-space displacement pattern (n_atoms, 3) of a mode at a q-point, mass-scaled, max norm 1.

    Only meaningful as a real displacement at q-points whose eigenvector is
    real up to a phase (Gamma, zone-boundary points); mode 0 is the lowest.
    """
    if result.eigenvectors is None or result.phonopy is None:
        raise ValueError("this PhononResult carries no eigenvectors")
    vec = result.eigenvectors[q_index][:, mode]
    vec = vec * np.exp(-1j * np.angle(vec[np.argmax(np.abs(vec))]))  # remove the arbitrary phase
    masses = np.asarray(result.phonopy.unitcell.masses)
    disp = (vec.real.reshape(-1, 3)) / np.sqrt(masses)[:, None]
    return np.asarray(disp / np.linalg.norm(disp, axis=1).max())
