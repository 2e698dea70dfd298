"""Loss and validation metrics of RM training."""

from __future__ import annotations

import torch

from .. import keys
from ..data import Batch
from ..potential import Potential


def batch_loss(
    potential: Potential | torch.nn.Module,
    batch: Batch,
    force_weight: float,
    stress_weight: float,
    create_graph: bool,
    counts: tuple[float, float] | None = None,
    energy_weight: float = 0.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """wF MSE(forces) + wS MSE(stress, 9 components) [+ wE MSE(energy
    difference per atom)]; also summed squared errors.

    With a batch that carries its equilibrium references (``batch.energy``),
    the energy term compares E~(noisy) - E~(equilibrium) with the label's
    energy, both per atom; it is computed and reported whenever the batch has
    them, and enters the loss with ``energy_weight``.

    ``counts`` replaces the number of force and stress components the means
    divide by (distributed training: the global batch's counts per rank). A
    placeholder batch (a rank without a frame of the global batch) gives the
    loss times 0, so that the rank still takes part in the gradient reduction,
    and no sums.
    """
    want_stress = bool(stress_weight) and bool(batch.has_stress.any())
    out = potential(batch.graph, forces=True, stress=want_stress, create_graph=create_graph)
    n = batch.n_frames
    df = out[keys.FORCES][: batch.forces.shape[0]] - batch.forces
    n_f, n_s = counts if counts is not None else (df.numel(), 9 * int(batch.has_stress.sum()))
    loss = force_weight * (df * df).sum() / n_f
    dfd = df.detach()
    sums = {"f_sq": float((dfd * dfd).sum()), "f_abs": float(dfd.abs().sum()), "f_n": dfd.numel()}
    if batch.energy is not None and batch.reference is not None:
        energy = out[keys.ENERGY]
        atoms = batch.graph.n_atoms[:n].to(energy.dtype)
        de = (energy[:n] - energy[batch.reference] - batch.energy) / atoms
        if energy_weight:
            loss = loss + energy_weight * (de * de).mean()
        ded = de.detach()
        sums.update(e_sq=float((ded * ded).sum()), e_n=n)
    if want_stress:
        ds = (out[keys.STRESS][:n] - batch.stress)[batch.has_stress]
        loss = loss + stress_weight * (ds * ds).sum() / n_s
        dsd = ds.detach()
        sums.update(s_sq=float((dsd * dsd).sum()), s_n=dsd.numel())
    if batch.placeholder:
        return loss * 0.0, {}
    return loss, sums


def summarise(totals: dict[str, float], force_weight: float, stress_weight: float,
              energy_weight: float = 0.0) -> dict[str, float]:
    """Loss and RMSE/MAE figures from summed errors."""
    out = {"loss": force_weight * totals.get("f_sq", 0.0) / max(totals.get("f_n", 0.0), 1.0)}
    if totals.get("s_n") and stress_weight:
        out["loss"] += stress_weight * totals["s_sq"] / totals["s_n"]
    if totals.get("e_n"):
        out["energy_rmse"] = (totals["e_sq"] / totals["e_n"]) ** 0.5  # eV/atom
        if energy_weight:
            out["loss"] += energy_weight * totals["e_sq"] / totals["e_n"]
    if totals.get("f_n"):
        out["force_rmse"] = (totals["f_sq"] / totals["f_n"]) ** 0.5
        out["force_mae"] = totals["f_abs"] / totals["f_n"]
    if totals.get("s_n"):
        out["stress_rmse"] = (totals["s_sq"] / totals["s_n"]) ** 0.5
    return out


def accumulate(totals: dict[str, float], sums: dict[str, float]) -> None:
    for k, v in sums.items():
        totals[k] = totals.get(k, 0.0) + v
