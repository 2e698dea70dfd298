"""Loss and validation metrics of RM training."""

from __future__ import annotations

import torch

from .. import keys
from ..data import Batch
from ..potential import Potential


def batch_loss(
    potential: Potential | torch.nn.Module, batch: Batch, force_weight: float, stress_weight: float, create_graph: bool
) -> tuple[torch.Tensor, dict[str, float]]:
    """wF MSE(forces) + wS MSE(stress, 9 components); also summed squared errors."""
    want_stress = bool(stress_weight) and bool(batch.has_stress.any())
    out = potential(batch.graph, forces=True, stress=want_stress, create_graph=create_graph)
    df = out[keys.FORCES] - batch.forces
    loss = force_weight * (df * df).mean()
    dfd = df.detach()
    sums = {"f_sq": float((dfd * dfd).sum()), "f_abs": float(dfd.abs().sum()), "f_n": dfd.numel()}
    if want_stress:
        ds = (out[keys.STRESS] - batch.stress)[batch.has_stress]
        loss = loss + stress_weight * (ds * ds).mean()
        dsd = ds.detach()
        sums.update(s_sq=float((dsd * dsd).sum()), s_n=dsd.numel())
    return loss, sums


def summarise(totals: dict[str, float]) -> dict[str, float]:
    """RMSE/MAE figures from summed errors."""
    out = {}
    if totals.get("f_n"):
        out["force_rmse"] = (totals["f_sq"] / totals["f_n"]) ** 0.5
        out["force_mae"] = totals["f_abs"] / totals["f_n"]
    if totals.get("s_n"):
        out["stress_rmse"] = (totals["s_sq"] / totals["s_n"]) ** 0.5
    return out


def accumulate(totals: dict[str, float], sums: dict[str, float]) -> None:
    for k, v in sums.items():
        totals[k] = totals.get(k, 0.0) + v
