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
) -> tuple[torch.Tensor, dict[str, float]]:
    """wF MSE(forces) + wS MSE(stress, 9 components); also summed squared errors.

    ``counts`` replaces the number of force and stress components the means
    divide by (distributed training: the global batch's counts per rank). A
    placeholder batch (a rank without a frame of the global batch) gives the
    loss times 0, so that the rank still takes part in the gradient reduction,
    and no sums.
    """
    want_stress = bool(stress_weight) and bool(batch.has_stress.any())
    out = potential(batch.graph, forces=True, stress=want_stress, create_graph=create_graph)
    df = out[keys.FORCES] - batch.forces
    n_f, n_s = counts if counts is not None else (df.numel(), 9 * int(batch.has_stress.sum()))
    loss = force_weight * (df * df).sum() / n_f
    dfd = df.detach()
    sums = {"f_sq": float((dfd * dfd).sum()), "f_abs": float(dfd.abs().sum()), "f_n": dfd.numel()}
    if want_stress:
        ds = (out[keys.STRESS] - batch.stress)[batch.has_stress]
        loss = loss + stress_weight * (ds * ds).sum() / n_s
        dsd = ds.detach()
        sums.update(s_sq=float((dsd * dsd).sum()), s_n=dsd.numel())
    if batch.placeholder:
        return loss * 0.0, {}
    return loss, sums


def summarise(totals: dict[str, float], force_weight: float, stress_weight: float) -> dict[str, float]:
    """Loss and RMSE/MAE figures from summed errors."""
    out = {"loss": force_weight * totals.get("f_sq", 0.0) / max(totals.get("f_n", 0.0), 1.0)}
    if totals.get("s_n") and stress_weight:
        out["loss"] += stress_weight * totals["s_sq"] / totals["s_n"]
    if totals.get("f_n"):
        out["force_rmse"] = (totals["f_sq"] / totals["f_n"]) ** 0.5
        out["force_mae"] = totals["f_abs"] / totals["f_n"]
    if totals.get("s_n"):
        out["stress_rmse"] = (totals["s_sq"] / totals["s_n"]) ** 0.5
    return out


def accumulate(totals: dict[str, float], sums: dict[str, float]) -> None:
    for k, v in sums.items():
        totals[k] = totals.get(k, 0.0) + v
