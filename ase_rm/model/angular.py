"""Cartesian angular basis and the rotation-invariant contractions (B features).

Monomials u_x^a u_y^b u_z^c with a+b+c <= lmax are ordered by total order
l = a+b+c, then lexicographically. Invariants (method.md section 3):

- nu = 1: A[000];
- nu = 2, L = 1..lmax: sum_{|v|=L} c(v) A_v^2, c(v) = L!/(vx! vy! vz!);
- nu = 3, keys (d1, d2, d3): sum c(v1) c(v2) c(v3) A_{v1+v2} A_{v1+v3} A_{v2+v3}.

The contractions are precomputed as index/coefficient tables so that the
features of a whole batch are two gathers and two matmuls.
"""

from __future__ import annotations

import itertools
from math import factorial

import torch
from torch import nn

Monomial = tuple[int, int, int]


def monomials(lmax: int) -> list[Monomial]:
    """All (a, b, c) with a+b+c <= lmax, ordered by l then descending a, b."""
    out: list[Monomial] = []
    for order in range(lmax + 1):
        for a in range(order, -1, -1):
            for b in range(order - a, -1, -1):
                out.append((a, b, order - a - b))
    return out


def multinomial(v: Monomial) -> int:
    return factorial(sum(v)) // (factorial(v[0]) * factorial(v[1]) * factorial(v[2]))


def nu3_keys(lmax: int) -> list[tuple[int, int, int]]:
    keys = []
    for d1 in range(1, lmax):
        for d2 in range(1, min(d1, lmax - d1) + 1):
            for d3 in range(0, min(d2, lmax - d1, lmax - d2) + 1):
                keys.append((d1, d2, d3))
    return keys


def _add(u: Monomial, v: Monomial) -> Monomial:
    return (u[0] + v[0], u[1] + v[1], u[2] + v[2])


class AngularBasis(nn.Module):
    """Unit vectors (n_edges, 3) -> monomials (n_edges, n_monomials).

    Computed as the tensor powers u, u(x)u, u(x)u(x)u, ... and one matmul with a
    0/1 selection matrix (no gathers, whose backward is slow on CPU).
    """

    def __init__(self, lmax: int) -> None:
        super().__init__()
        self.lmax = lmax
        mono = monomials(lmax)
        columns: list[Monomial] = []  # monomial of each tensor-power column
        for order in range(lmax + 1):
            for axes in itertools.product(range(3), repeat=order):
                columns.append((axes.count(0), axes.count(1), axes.count(2)))
        select = torch.zeros(len(columns), len(mono), dtype=torch.float64)
        for m, v in enumerate(mono):
            select[columns.index(v), m] = 1.0
        self.register_buffer("select", select, persistent=False)

    def forward(self, unit: torch.Tensor) -> torch.Tensor:
        n = unit.shape[0]
        powers = [torch.ones(n, 1, dtype=unit.dtype, device=unit.device)]
        for _ in range(self.lmax):
            powers.append((powers[-1][:, :, None] * unit[:, None, :]).reshape(n, -1))
        return torch.cat(powers, dim=1) @ self.select


class Invariants(nn.Module):
    """A (..., n_monomials) -> rotation invariants (..., n_invariants).

    nu = 3 uses full Cartesian tensors: with T_L[i_1..i_L] = A_v(i), the sum
    over all index tuples equals the sum over monomials weighted by c(v), so
    key (d1, d2, d3) is sum_{I2,I3} (T12^T T13)[I2, I3] T23[I2, I3], where
    T12 is T_{d1+d2} reshaped to (3^d1, 3^d2) and so on: one tiny bmm per key.
    """

    def __init__(self, lmax: int, numax: int) -> None:
        super().__init__()
        mono = monomials(lmax)
        orders = [sum(m) for m in mono]
        n2 = lmax if numax >= 2 else 0
        p2 = torch.zeros(len(mono), n2, dtype=torch.float64)
        for k, m in enumerate(mono):
            if 1 <= orders[k] <= n2:
                p2[k, orders[k] - 1] = multinomial(m)
        self.keys = nu3_keys(lmax) if numax >= 3 else []
        max_rank = max((max(d1 + d2, d1 + d3, d2 + d3) for d1, d2, d3 in self.keys), default=0)
        self.offsets = [sum(3**r for r in range(rank)) - 1 for rank in range(max_rank + 1)]
        expand = torch.zeros(len(mono), max(self.offsets[-1] + 3**max_rank, 0), dtype=torch.float64)
        index = {m: k for k, m in enumerate(mono)}
        for rank in range(1, max_rank + 1):
            for c, axes in enumerate(itertools.product(range(3), repeat=rank)):
                v = (axes.count(0), axes.count(1), axes.count(2))
                expand[index[v], self.offsets[rank] + c] = 1.0
        self.register_buffer("p2", p2, persistent=False)
        self.register_buffer("expand", expand, persistent=False)
        self.n_features = 1 + n2 + len(self.keys)

    def _full(self, full: torch.Tensor, rank: int, split: int) -> torch.Tensor:
        """T_rank as (X, 3^split, 3^(rank - split))."""
        start = self.offsets[rank]
        return full[:, start : start + 3**rank].reshape(-1, 3**split, 3 ** (rank - split))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        feats = [a[..., :1]]
        if self.p2.shape[1]:
            feats.append((a * a) @ self.p2)
        if self.keys:
            lead = a.shape[:-1]
            full = a.reshape(-1, a.shape[-1]) @ self.expand
            out = []
            for d1, d2, d3 in self.keys:
                t12 = self._full(full, d1 + d2, d1)
                t13 = self._full(full, d1 + d3, d1)
                t23 = self._full(full, d2 + d3, d2)
                out.append((torch.bmm(t12.transpose(1, 2), t13) * t23).sum(dim=(1, 2)))
            feats.append(torch.stack(out, dim=-1).reshape(*lead, len(self.keys)))
        return torch.cat(feats, dim=-1)
