"""Radial basis: trainable Bessel functions times a polynomial cutoff."""

from __future__ import annotations

import math

import torch
from torch import nn


class BesselBasis(nn.Module):
    """sqrt(2/rc) sin(w_n r) / r, w_n initialised to n pi / rc (n = 1..n_basis)."""

    def __init__(self, cutoff: float, n_basis: int = 6, trainable: bool = True) -> None:
        super().__init__()
        freqs = torch.arange(1, n_basis + 1, dtype=torch.float64) * math.pi / cutoff
        if trainable:
            self.freqs = nn.Parameter(freqs)
        else:
            self.register_buffer("freqs", freqs)
        self.prefactor = math.sqrt(2.0 / cutoff)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        """(n_edges,) distances in Å -> (n_edges, n_basis)."""
        return self.prefactor * torch.sin(r[:, None] * self.freqs) / r[:, None]


class PolynomialCutoff(nn.Module):
    """f(x) = 1 - (p+1)(p+2)/2 x^p + p(p+2) x^(p+1) - p(p+1)/2 x^(p+2), x = r/rc.

    For p = 2: 1 - 6x^2 + 8x^3 - 3x^4. Value and slope vanish at rc.
    """

    def __init__(self, cutoff: float, p: int = 2) -> None:
        super().__init__()
        self.cutoff = float(cutoff)
        self.p = int(p)

    def forward(self, r: torch.Tensor) -> torch.Tensor:
        p = self.p
        x = r / self.cutoff
        f = (
            1.0
            - 0.5 * (p + 1) * (p + 2) * x**p
            + p * (p + 2) * x ** (p + 1)
            - 0.5 * p * (p + 1) * x ** (p + 2)
        )
        return f * (x < 1.0).to(r.dtype)
