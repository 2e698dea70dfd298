"""Batched Frechet cell filter: ``ase.filters.FrechetCellFilter`` for many structures.

The degrees of freedom of a structure with n atoms are n + 3 rows: the atom
positions in the undeformed cell, x_i = r_i F^-T, and the scaled matrix log
of the deformation gradient F relative to the starting cell C0,
L = factor * log(F) with C = C0 F^T (cell vectors are rows). The matching
generalized forces are f_i F for the atoms and, for the cell,
(1/factor) * (adjoint Frechet derivative of exp at log F) applied to
W F^-T, where W = -V (sigma + p I) is the virial (sigma the stress, eV/Å^3,
ASE sign; p the scalar pressure). ``factor`` is ASE's ``exp_cell_factor``,
by default the number of atoms.

ASE stores factor * (log(F) + log(n) I) (a constant shift of the cell rows
that an optimiser never sees); here the cell rows start at zero.
"""

from __future__ import annotations

from typing import Literal

import torch

from ..errors import ConfigError

CellMode = Literal["full", "constant_volume", "hydrostatic"]
CELL_MODES: tuple[str, ...] = ("full", "constant_volume", "hydrostatic")
"""Variable-cell modes: all 9 log-strain components, volume kept (traceless
log-strain force), or isotropic deformation only (the virial is replaced by
its trace / 3, as ASE's ``hydrostatic_strain``)."""


def deformation(log_cell: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """Deformation gradients F = exp(L / factor), (n_structures, 3, 3).

    Args:
        log_cell: (n_structures, 3, 3) cell rows L of the generalized coordinates.
        factor: (n_structures,) ``exp_cell_factor``.
    """
    return torch.linalg.matrix_exp(log_cell / factor[:, None, None])


def from_generalized(
    x_atoms: torch.Tensor,
    log_cell: torch.Tensor,
    orig_cell: torch.Tensor,
    factor: torch.Tensor,
    atom_batch: torch.Tensor,
    deform: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cartesian positions (n_atoms, 3) and cells (n_structures, 3, 3), Å.

    Args:
        x_atoms: (n_atoms, 3) positions in the undeformed cells, Å.
        log_cell: (n_structures, 3, 3) scaled log-deformation rows.
        orig_cell: (n_structures, 3, 3) starting cells C0, Å.
        factor: (n_structures,) ``exp_cell_factor``.
        atom_batch: (n_atoms,) structure index of each atom.
        deform: :func:`deformation` of ``log_cell`` and ``factor`` if computed already.
    """
    deform_t = (deformation(log_cell, factor) if deform is None else deform).transpose(1, 2)  # F^T
    positions = torch.einsum("ni,nij->nj", x_atoms, deform_t[atom_batch])
    return positions, torch.bmm(orig_cell, deform_t)


def generalized_forces(
    forces: torch.Tensor,
    stress: torch.Tensor,
    cell: torch.Tensor,
    log_cell: torch.Tensor,
    factor: torch.Tensor,
    atom_batch: torch.Tensor,
    mode: CellMode = "full",
    pressure: float | torch.Tensor = 0.0,
    deform: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forces on the generalized coordinates (ASE's ``FrechetCellFilter.get_forces``).

    Args:
        forces: (n_atoms, 3) Cartesian forces, eV/Å.
        stress: (n_structures, 3, 3) stress, eV/Å^3, ASE sign.
        cell: (n_structures, 3, 3) current cells, Å.
        log_cell: (n_structures, 3, 3) current scaled log-deformation rows.
        factor: (n_structures,) ``exp_cell_factor``.
        atom_batch: (n_atoms,) structure index of each atom.
        mode: "full", "constant_volume" or "hydrostatic".
        pressure: external scalar pressure, eV/Å^3 (a float or (n_structures,)).
        deform: :func:`deformation` of ``log_cell`` and ``factor`` if computed already.

    Returns:
        Atom rows (n_atoms, 3), eV/Å, and cell rows (n_structures, 3, 3), eV.
    """
    if mode not in CELL_MODES:
        raise ConfigError(f"cell mode must be one of {CELL_MODES}, got {mode!r}")
    eye = torch.eye(3, dtype=cell.dtype, device=cell.device)
    volume = torch.linalg.det(cell).abs()
    p = torch.as_tensor(pressure, dtype=cell.dtype, device=cell.device).reshape(-1, 1, 1)
    virial = -volume[:, None, None] * (stress + p * eye)
    if mode == "hydrostatic":
        virial = virial.diagonal(dim1=1, dim2=2).sum(1)[:, None, None] / 3.0 * eye
    log_f = log_cell / factor[:, None, None]
    deform = torch.linalg.matrix_exp(log_f) if deform is None else deform
    ucf_grad = virial @ torch.linalg.inv(deform.transpose(1, 2))
    log_force = expm_frechet_adjoint(log_f, ucf_grad)
    if mode == "constant_volume":
        trace = log_force.diagonal(dim1=1, dim2=2).sum(1)
        log_force = log_force - trace[:, None, None] / 3.0 * eye
    atom_rows = torch.einsum("ni,nij->nj", forces, deform[atom_batch])
    return atom_rows, log_force / factor[:, None, None]


def expm_frechet_adjoint(a: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """G_mn = sum_ij [d exp(A) / d A_mn]_ij g_ij for batched 3x3 ``a`` and ``g``.

    This is the adjoint of the Frechet derivative of exp at A, which equals
    the Frechet derivative at A^T in the direction G; it is read off the
    upper-right block of exp([[A^T, G], [0, A^T]]).
    """
    n = a.shape[0]
    block = torch.zeros(n, 6, 6, dtype=a.dtype, device=a.device)
    at = a.transpose(1, 2)
    block[:, :3, :3] = at
    block[:, 3:, 3:] = at
    block[:, :3, 3:] = g
    return torch.linalg.matrix_exp(block)[:, :3, 3:]
