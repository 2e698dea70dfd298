"""Batched FIRE: ``ase.optimize.FIRE`` for many structures at once.

Rows of many structures' (generalized) coordinates are concatenated into one
(n_rows, 3) tensor with a ``batch`` index per row; every structure has its own
time step, mixing parameter, positive-step counter and velocity rows, and the
update of one structure is exactly ASE's ``FIRE.step`` for that structure
alone: the power P = sum(f . v) and the maxstep cap on the norm of the whole
step vector are taken over that structure's rows only. ASE's optional
``downhill_check`` (off by default) is not implemented.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FireParams:
    """FIRE constants, ASE's defaults and names (ASE name in brackets).

    Attributes:
        dt: initial time step (dt).
        maxstep: largest norm of one structure's whole step vector, Å (maxstep).
        dt_max: largest time step (dtmax).
        n_min: positive steps before the time step may grow (Nmin).
        f_inc: time step growth factor (finc).
        f_dec: time step shrink factor after an uphill step (fdec).
        alpha_start: mixing parameter after an uphill step (astart).
        f_alpha: mixing parameter decay factor (fa).
        alpha: initial mixing parameter (a).
    """

    dt: float = 0.1
    maxstep: float = 0.2
    dt_max: float = 1.0
    n_min: int = 5
    f_inc: float = 1.1
    f_dec: float = 0.5
    alpha_start: float = 0.1
    f_alpha: float = 0.99
    alpha: float = 0.1


@dataclass
class FireState:
    """Per-structure FIRE state of a batch.

    Attributes:
        velocities: (n_rows, 3) float64, one row per coordinate row.
        dt: (n_structures,) float64 time step.
        alpha: (n_structures,) float64 mixing parameter.
        n_pos: (n_structures,) int64 positive steps since the last reset (ASE's Nsteps).
        started: (n_structures,) bool, False until the first step (ASE's ``vel is None``).
    """

    velocities: torch.Tensor
    dt: torch.Tensor
    alpha: torch.Tensor
    n_pos: torch.Tensor
    started: torch.Tensor

    def select(self, keep: torch.Tensor, row_keep: torch.Tensor) -> FireState:
        """The state of the structures ``keep`` (n_structures,) bool with rows ``row_keep``."""
        return FireState(self.velocities[row_keep], self.dt[keep], self.alpha[keep],
                         self.n_pos[keep], self.started[keep])

    @staticmethod
    def cat(states: list[FireState]) -> FireState:
        """States of several batches, in order (rows of each batch stay together)."""
        return FireState(*(torch.cat([getattr(s, k) for s in states]) for k in
                           ("velocities", "dt", "alpha", "n_pos", "started")))


def fire_init(
    n_rows: int,
    n_structures: int,
    params: FireParams = FireParams(),
    device: torch.device | str = "cpu",
) -> FireState:
    """A fresh state: zero velocities, ``params.dt`` and ``params.alpha`` for every structure."""
    f64 = torch.float64
    return FireState(
        velocities=torch.zeros(n_rows, 3, dtype=f64, device=device),
        dt=torch.full((n_structures,), params.dt, dtype=f64, device=device),
        alpha=torch.full((n_structures,), params.alpha, dtype=f64, device=device),
        n_pos=torch.zeros(n_structures, dtype=torch.int64, device=device),
        started=torch.zeros(n_structures, dtype=torch.bool, device=device),
    )


def per_structure_sum(values: torch.Tensor, batch: torch.Tensor, n_structures: int) -> torch.Tensor:
    """Sum of (n_rows,) ``values`` over each structure's rows, (n_structures,)."""
    out = torch.zeros(n_structures, dtype=values.dtype, device=values.device)
    return out.index_add(0, batch, values)


def fire_step(
    state: FireState,
    positions: torch.Tensor,
    forces: torch.Tensor,
    batch: torch.Tensor,
    active: torch.Tensor | None = None,
    params: FireParams = FireParams(),
) -> tuple[torch.Tensor, FireState]:
    """One FIRE step of every active structure (ASE's ``FIRE.step``).

    Args:
        state: the state before the step.
        positions: (n_rows, 3) coordinates (float64; Å or generalized).
        forces: (n_rows, 3) forces at ``positions`` (minus the gradient).
        batch: (n_rows,) structure index of each row.
        active: (n_structures,) bool; inactive (e.g. converged) structures keep
            their positions and state unchanged. All active if None.
        params: FIRE constants.

    Returns:
        The new positions (n_rows, 3) and the new state.
    """
    n = state.dt.shape[0]
    forces = forces.to(positions.dtype)
    active = torch.ones(n, dtype=torch.bool, device=positions.device) if active is None else active
    v = state.velocities
    vf = per_structure_sum((forces * v).sum(1), batch, n)
    f2 = per_structure_sum((forces * forces).sum(1), batch, n)
    v2 = per_structure_sum((v * v).sum(1), batch, n)
    uphill = state.started & ~(vf > 0.0)
    downhill = state.started & (vf > 0.0)
    # velocity mixing of a downhill step; zero velocities after an uphill one
    ratio = torch.where(downhill, v2.sqrt() / f2.clamp_min(torch.finfo(f2.dtype).tiny).sqrt(), 0.0)
    mixed = (1.0 - state.alpha)[batch, None] * v + (state.alpha * ratio)[batch, None] * forces
    v = torch.where(downhill[batch, None], mixed, v)
    v = torch.where(uphill[batch, None], torch.zeros_like(v), v)
    grow = downhill & (state.n_pos > params.n_min)
    dt = torch.where(grow, (state.dt * params.f_inc).clamp_max(params.dt_max), state.dt)
    dt = torch.where(uphill, dt * params.f_dec, dt)
    alpha = torch.where(grow, state.alpha * params.f_alpha, state.alpha)
    alpha = torch.where(uphill, torch.full_like(alpha, params.alpha_start), alpha)
    n_pos = torch.where(downhill, state.n_pos + 1, state.n_pos)
    n_pos = torch.where(uphill, torch.zeros_like(n_pos), n_pos)
    v = v + dt[batch, None] * forces
    dr = dt[batch, None] * v
    norm = per_structure_sum((dr * dr).sum(1), batch, n).sqrt()
    scale = torch.where(norm > params.maxstep, params.maxstep / norm.clamp_min(1e-300), 1.0)
    new_positions = positions + scale[batch, None] * dr
    # inactive structures: nothing changes
    rows = active[batch, None]
    new = FireState(
        velocities=torch.where(rows, v, state.velocities),
        dt=torch.where(active, dt, state.dt),
        alpha=torch.where(active, alpha, state.alpha),
        n_pos=torch.where(active, n_pos, state.n_pos),
        started=state.started | active,
    )
    return torch.where(rows, new_positions, positions), new
