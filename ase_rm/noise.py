"""The noising recipe: fictitious restoring forces and stress (docs/method.md section 2).

Crystals: C = C0 (1 + a) + cell_noise L (U - 0.5), F = C0^-1 C (row vectors),
eps = 1/2 (F^T F - I), sigma = lambda tr(eps) I + 2 mu eps (ASE sign); atoms
follow the cell affinely. Displacements d = scale s (U - 0.5) per component
(minimum image for crystals); force F = -k d + F_repulsion (+ label noise for
molecules). Randomness comes only from the numpy Generator passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from vesin import NeighborList

from .config import NoiseConfig
from .graph import SHORT_RANGE_LIST_CUTOFF, Frame


@dataclass
class NoisyFrame:
    """A noised structure with its targets.

    Attributes:
        frame: the noisy structure.
        forces: (n, 3) target force, eV/Å.
        stress: (3, 3) target stress, eV/Å^3, ASE sign; None for molecules.
        displacement: (n, 3) applied displacement, Å.
        level: noise level s.
        strain_scale: strain scale a (molecules: 0 unless NoiseConfig.strain_scales is set).
        source: index of the equilibrium structure.
        energy: the label's energy relative to the equilibrium structure, eV:
            k/2 sum |d|^2 plus the change of the repulsion energy (the forces
            are its negative gradient, label noise aside); crystals add the
            strain energy V0 W(eps) whose strain derivative is the stress label
            (:func:`strain_energy`).
    """

    frame: Frame
    forces: np.ndarray
    stress: np.ndarray | None
    displacement: np.ndarray
    level: float
    strain_scale: float
    source: int
    energy: float = float("nan")


def green_strain(cell0: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """The Green strain eps = (F^T F - I) / 2 of cell0 -> cell, F = C0^-1 C (rows are cell vectors)."""
    deform = np.linalg.solve(cell0, cell)
    return 0.5 * (deform.T @ deform - np.eye(3))


def strain_cell(
    cell0: np.ndarray, scale: float, cfg: NoiseConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy cell and its stress label: (C, sigma), both (3, 3)."""
    length = abs(np.linalg.det(cell0)) ** (1.0 / 3.0)
    cell = cell0 * (1.0 + scale) + cfg.cell_noise * length * (rng.random((3, 3)) - 0.5)
    eps = green_strain(cell0, cell)
    lam, mu = cfg.lame
    sigma = lam * np.trace(eps) * np.eye(3) + 2.0 * mu * eps
    return cell, sigma


def repulsion_forces(frame: Frame, cfg: NoiseConfig) -> np.ndarray:
    """Element-blind repulsion g(r) = m (1 - r^2/rc^2)^n over pairs r < rc, eV/Å."""
    return repulsion(frame, cfg)[1]


def repulsion(frame: Frame, cfg: NoiseConfig) -> tuple[float, np.ndarray]:
    """The repulsion energy sum_(i<j) g(r_ij), eV, and its forces, eV/Å."""
    box = frame.cell if frame.pbc.any() else np.zeros((3, 3))
    nl = NeighborList(cutoff=max(cfg.repulsion_rc, SHORT_RANGE_LIST_CUTOFF), full_list=True)
    i, vec = nl.compute(frame.positions, box, frame.pbc.tolist(), quantities="iD")
    rc2 = cfg.repulsion_rc**2
    r2 = np.einsum("ij,ij->i", vec, vec)
    close = r2 < rc2
    i, vec, r2 = i[close], vec[close], r2[close]
    out = np.zeros_like(frame.positions)
    if len(i) == 0:
        return 0.0, out
    base = np.clip(1.0 - r2 / rc2, 0.0, None)
    energy = 0.5 * cfg.repulsion_m * float(np.sum(base**cfg.repulsion_n))  # a full list counts each pair twice
    mag = (2.0 * cfg.repulsion_m * cfg.repulsion_n / rc2) * base ** (cfg.repulsion_n - 1)
    # vec = x_j - x_i, and the force on i points along x_i - x_j.
    np.add.at(out, i, -mag[:, None] * vec)
    return energy, out


def strain_energy(cell0: np.ndarray, cell: np.ndarray, cfg: NoiseConfig) -> float:
    """V0 W(eps), eV: the strain energy of :func:`strain_cell`'s stress label.

    W = lambda/2 tr(eps)^2 + mu tr(eps^2) of the Green strain eps of cell0 -> cell,
    so that dW/deps is the label's sigma; V0 is cell0's volume.
    """
    eps = green_strain(cell0, cell)
    lam, mu = cfg.lame
    w = 0.5 * lam * float(np.trace(eps)) ** 2 + mu * float(np.sum(eps * eps))
    return abs(float(np.linalg.det(cell0))) * w


def noise_frame(
    frame: Frame,
    cfg: NoiseConfig,
    level: float,
    strain_scale: float,
    rng: np.random.Generator,
    source: int = 0,
    base_energy: float | None = None,
) -> NoisyFrame:
    """Noise one equilibrium structure at noise level ``level`` (and strain ``strain_scale``).

    ``base_energy``: the repulsion energy of ``frame`` itself (computed
    when None), which the energy label is measured from. The input is not modified.
    """
    n = len(frame)
    positions, cell, stress = frame.positions.copy(), frame.cell.copy(), None
    crystal = cfg.kind == "crystal"
    if crystal:
        cell, stress = strain_cell(frame.cell, strain_scale, cfg, rng)
        positions = positions @ np.linalg.solve(frame.cell, cell)
    disp = cfg.displacement_scale * level * (rng.random((n, 3)) - 0.5)
    if not crystal and strain_scale:  # the scaled molecule is part of the displacement the label restores
        disp = disp + strain_scale * (positions - positions.mean(axis=0))
    if crystal and frame.pbc.any():
        frac = np.linalg.solve(cell.T, disp.T).T  # d C^-1
        frac = np.where(frame.pbc, np.round(frac), 0.0)
        disp = disp - frac @ cell
    noisy = Frame(positions + disp, frame.numbers.copy(), cell, frame.pbc.copy())
    e_rep, f_rep = repulsion(noisy, cfg)
    forces = -cfg.k * disp + f_rep
    base = repulsion(frame, cfg)[0] if base_energy is None else base_energy
    energy = 0.5 * cfg.k * float(np.sum(disp * disp)) + e_rep - base
    if crystal:
        energy += strain_energy(frame.cell, cell, cfg)
    if cfg.label_noise and not crystal:
        forces = forces + cfg.label_noise * np.sqrt(level) * (rng.random((n, 3)) - 0.5)
    return NoisyFrame(noisy, forces, stress, disp, float(level), float(strain_scale), source, energy)


class NoiseSchedule:
    """Which (level, strain) each of a structure's frames gets in an epoch.

    Frame k of structure m in epoch e is drawn from the Generator seeded with
    (seed, e, m, k): reproducible, independent of batch order and of workers.
    Structure m must always be the same frame (its repulsion energy, the
    energy label's zero, is computed once and kept).
    """

    def __init__(self, cfg: NoiseConfig, seed: int) -> None:
        self.cfg = cfg
        self.seed = int(seed)
        self._base_energy: dict[int, float] = {}

    @property
    def frames_per_structure(self) -> int:
        return self.cfg.frames_per_structure

    def rng(self, epoch: int, structure: int, k: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, epoch, structure, k])

    def sample(self, frame: Frame, structure: int, k: int, epoch: int) -> NoisyFrame:
        cfg, rng = self.cfg, self.rng(epoch, structure, k)
        n_levels = len(cfg.levels)
        level = cfg.levels[k % n_levels]
        if cfg.kind != "crystal":  # molecules: an optional isotropic scale about the centroid, one per frame
            scales = cfg.strain_scales
            strain = float(scales[int(rng.integers(len(scales)))]) if scales else 0.0
        elif cfg.strain_mode == "grid":
            strain = cfg.strain_scales[k // n_levels]
        else:
            strain = cfg.strain_scales[int(rng.integers(len(cfg.strain_scales)))]
        base = self._base_energy.get(structure)
        if base is None:
            base = self._base_energy[structure] = repulsion(frame, cfg)[0]
        return noise_frame(frame, cfg, level, strain, rng, source=structure, base_energy=base)
